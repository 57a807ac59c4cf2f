"""The VAE's reconstruction weight on TimeGAN's Stocks windows: for each weight, fit the
paper-budget VAE (300 epochs) and print its last KL and reconstruction loss, the per-channel
observation-noise scale and a one-repeat discriminative score with and without noise.

Run:  TSAD_DATA_DIR=../shared/datasets python benchmarks/sweep_vae_weight.py 3 10 30 100 300
Used to pick ``reconstruction_weight`` of the protocol benchmark; the protocol then scores it
with three repeats. Run on 2026-11-28 while other jobs shared the CPU (times not comparable).
"""

import sys
import time

import numpy as np

from tsad_helpers import qa, synthesis
from tsad_helpers.synthesis.protocol import stock_windows


def main(weights) -> None:
    x = stock_windows(seed=0)
    for w in weights:
        start = time.perf_counter()
        gen = synthesis.make("vae", epochs=300, batch_size=64, latent_dim=8, hidden=64,
                             reconstruction_weight=w, random_state=0).fit(x)
        last = gen.history_[-1]
        disc = {}
        for noise in (True, False):
            gen.observation_noise = noise
            disc[noise] = qa.discriminative_score(x, gen.sample(len(x)), repeats=1,
                                                  steps=2000, seed=0)["mean"]
        print(f"weight {w}: kl {last['kl_loss']:.2f}, rec {last['rec_loss']:.3f}, noise std "
              f"{np.round(gen.noise_std_, 3).tolist()}, discriminative with noise "
              f"{disc[True]:.3f}, mean only {disc[False]:.3f}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [3.0, 10.0, 30.0, 100.0, 300.0])
