"""Fine-tuning recipes; the `vitrina train` commands are thin layers over these."""
from vitrina.training.recipes.text import TextRecipeError, TextTrainConfig, TextTrainResult, train_text
from vitrina.training.recipes.text_model import MeanPooledTextModel, TextModelError

__all__ = ["MeanPooledTextModel", "TextModelError", "TextRecipeError", "TextTrainConfig", "TextTrainResult", "train_text"]
