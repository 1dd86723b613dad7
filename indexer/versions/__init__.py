"""The life of versions after a build: what changed, what was published when, what to keep.

`indexer/publishing.py` is the entry point (shadow check, publish, rollback, gc); this
package holds the parts it is made of, small enough to read on their own.
"""
