"""Autoencoders and variational autoencoders (Part II, before latent flow matching), one module per concept.

* :mod:`~genai_lib.autoencoders.models` — :class:`AutoencoderConfig`, :class:`Autoencoder` and
  :class:`VAE` (``encode`` → mean and log-variance, ``reparameterise``, ``decode``, ``sample``);
* :mod:`~genai_lib.autoencoders.elbo` — the ELBO's terms, :func:`gaussian_kl` and :func:`gaussian_nll`,
  and the β-VAE loss :func:`vae_loss` (Kingma & Welling 2014; Higgins et al. 2017);
* :mod:`~genai_lib.autoencoders.train` — :class:`AutoencoderTrainer` with ``fit(steps=...)``, and
  safetensors checkpoints with the config beside (:func:`save_model`, :func:`load_model`).

This family imports no other family: a latent generative model (the latent flow-matching chapter)
is glued on by encoding the data and handing the codes to another family's trainer.
"""

from __future__ import annotations

from genai_lib.autoencoders.elbo import ELBOTerms, elbo, gaussian_kl, gaussian_nll, vae_loss
from genai_lib.autoencoders.models import VAE, Autoencoder, AutoencoderConfig, VAEOutput
from genai_lib.autoencoders.train import AutoencoderTrainer, AutoencoderTrainerConfig, load_model, save_model

__all__ = [
    "AutoencoderConfig",
    "Autoencoder",
    "VAE",
    "VAEOutput",
    "gaussian_kl",
    "gaussian_nll",
    "ELBOTerms",
    "vae_loss",
    "elbo",
    "AutoencoderTrainerConfig",
    "AutoencoderTrainer",
    "save_model",
    "load_model",
]
