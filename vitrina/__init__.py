"""vitrina: vector search, maps and explanations for collections of images, text and metadata."""

__version__ = "0.1.0"
