"""Hot swap: open another version beside the served one, then switch in one assignment.

The reloading request's own thread opens the new bundle completely (encoders too, per
settings) while every other request keeps answering from the old one; the holder then
swaps. Requests in flight finish on the snapshot they took, and the old bundle is freed
when the last of them ends (`_reap`). A load that fails leaves the old version serving.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
import weakref

from vitrina.schemas.bundle_layout import CollectionPaths, check_name
from vitrina.indexer.bundle.reader import BundleNotFoundError
from vitrina.search_api.errors import InvalidArgument, NotFound, ServiceError, Unavailable
from vitrina.search_api.holder import BundleHolder
from vitrina.search_api.models import ReloadView
from vitrina.search_api.observability import Metrics
from vitrina.search_api.settings import Settings

log = logging.getLogger("vitrina.search_api")

# After this long an old bundle that is still referenced is reported, not waited for.
REAP_GIVE_UP_S = 1800.0
REAP_MAX_DELAY_S = 30.0


class Reloader:
    def __init__(self, holder: BundleHolder, settings: Settings, metrics: Metrics):
        self.holder = holder
        self.settings = settings
        self.metrics = metrics
        # One load at a time: two at once would each hold a whole bundle in memory beside the served one.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def reload(self, version: str | None = None) -> ReloadView:
        """Serve `version` (None: the one CURRENT names now). NotFound for a version that does
        not exist, Unavailable when it fails to load (the old one keeps serving)."""
        root, collection = self.settings.bundles_root, self.settings.collection
        if root is None:
            raise Unavailable("this server was handed its bundle, not a bundles root: there is nothing to reload from")
        if version is not None:
            try:
                check_name(version, "version")
            except ValueError as exc:
                raise InvalidArgument("version", str(exc)) from None
            if self.settings.workers > 1 and version != CollectionPaths.of(root, collection).current():
                # This request reaches one worker; the others would go on serving CURRENT.
                raise InvalidArgument("version", f"this server runs {self.settings.workers} worker processes, which all "
                                      "follow CURRENT: publish the version (`vitrina index publish`), then reload "
                                      "without naming one")
        with self._lock:
            started = time.perf_counter()
            previous = self.holder.version
            target = version or CollectionPaths.of(root, collection).current()
            if target is None:
                self.metrics.reloads.labels("failed").inc()
                raise NotFound("published version (no CURRENT) of collection", collection)
            if target == previous:
                self.metrics.reloads.labels("unchanged").inc()
                return ReloadView(previous_version=previous, version=target, seconds=0.0, changed=False)
            # A weak reference only: a strong one here would keep the old bundle alive.
            retired = weakref.ref(self.holder.get()) if previous is not None else None
            self._load(root, collection, target, previous)
            seconds = round(time.perf_counter() - started, 4)
        self.metrics.reloads.labels("loaded").inc()
        log.info("reloaded", extra={"previous_version": previous, "version": target, "seconds": seconds})
        if retired is not None:
            self._reap(retired)
        return ReloadView(previous_version=previous, version=target, seconds=seconds, changed=True)

    def _load(self, root, collection: str, version: str, previous: str | None) -> None:
        try:
            self.holder.load(root, collection, version=version, preload_encoders=self.settings.preload_encoders)
        except BundleNotFoundError:
            self.metrics.reloads.labels("failed").inc()
            raise NotFound("version", version) from None
        except Exception as exc:
            self.metrics.reloads.labels("failed").inc()
            log.exception("reload failed; the old version keeps serving", extra={"version": version})
            # from None, and the first line only: the log has the whole story; the client gets what and why.
            reason = (str(exc).strip().splitlines() or [""])[0]
            raise Unavailable(
                f"loading version {version!r} failed ({type(exc).__name__}: {reason}); still serving {previous!r}"
            ) from None

    def _reap(self, retired: weakref.ref) -> None:
        """Free the old bundle as soon as no request uses it.

        Its lazy loaders hold bound methods of it (indexer/bundle/reader.py), so reference
        counting never frees it and only the cycle collector does, which a server allocating
        few Python objects may not run for a long time: gigabytes of vectors would linger.
        So collect now, and again with backoff while requests in flight still hold it.
        """

        def run() -> None:
            give_up = time.monotonic() + REAP_GIVE_UP_S
            delay = 0.05
            while True:
                gc.collect()
                if retired() is None:
                    return
                if time.monotonic() > give_up:
                    log.warning("an old bundle is still referenced; its memory is not released")
                    return
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, REAP_MAX_DELAY_S)

        threading.Thread(target=run, name="vitrina-reaper", daemon=True).start()

    # -- watching CURRENT -------------------------------------------------------------------

    def watch_current(self, interval_s: float) -> None:
        """Poll CURRENT every `interval_s` in a daemon thread and reload when it names another
        version. A version that failed to load is not retried until CURRENT changes again
        (an admin reload still can): versions are immutable, so retrying would only fail again."""
        if self._watcher is not None or self.settings.bundles_root is None:
            return
        paths = CollectionPaths.of(self.settings.bundles_root, self.settings.collection)
        self._stop.clear()  # an app started again after a stop (tests re-enter lifespans)

        def run() -> None:
            failed: str | None = None
            while not self._stop.wait(interval_s):
                current = paths.current()
                if current is None or current in (self.holder.version, failed):
                    continue
                try:
                    self.reload(current)
                    failed = None
                except ServiceError as exc:
                    failed = current
                    log.warning("CURRENT names a version that does not load; still serving the old one",
                                extra={"version": current, "error": exc.message})
                except Exception:
                    failed = current
                    log.exception("reload from CURRENT failed", extra={"version": current})

        self._watcher = threading.Thread(target=run, name="vitrina-watch-current", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """End the watcher and any reaper (at shutdown)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
