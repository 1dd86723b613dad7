"""Contrastive losses: small modules whose maths works on embeddings (one per file)."""
from vitrina.training.losses.clip_loss import ClipLoss
from vitrina.training.losses.info_nce import InfoNCELoss
from vitrina.training.losses.nt_xent import NTXentLoss

__all__ = ["ClipLoss", "InfoNCELoss", "NTXentLoss"]
