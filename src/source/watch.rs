//! notify → tokio bridge. File events are wake-ups, never truth: after one, the follower
//! stats its files and decides from that. A poll tick covers missed events, network file
//! systems and directories that do not exist yet.

use std::path::{Path, PathBuf};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// Watches one directory (not recursively) and sends `()` on any change in it.
pub struct DirWatcher {
    inner: Option<notify::RecommendedWatcher>,
    watching: Option<PathBuf>,
    wake: mpsc::Sender<()>,
    failed_once: bool,
}

impl DirWatcher {
    /// Wake-ups go to `wake` (capacity 1 is enough: wake-ups coalesce).
    pub fn new(wake: mpsc::Sender<()>) -> Self {
        DirWatcher {
            inner: None,
            watching: None,
            wake,
            failed_once: false,
        }
    }

    /// Makes sure `dir` is watched. Cheap when it already is; if the directory does not
    /// exist (yet) or inotify is unavailable, polling alone covers it and this is retried.
    pub fn ensure(&mut self, dir: &Path) {
        if self.watching.as_deref() == Some(dir) && dir.is_dir() {
            return;
        }
        if self.inner.is_none() {
            let tx = self.wake.clone();
            let handler = move |res: notify::Result<notify::Event>| {
                let relevant = match res {
                    Ok(ev) => !matches!(
                        ev.kind,
                        EventKind::Access(_)
                            | EventKind::Modify(notify::event::ModifyKind::Metadata(_))
                    ),
                    Err(_) => true,
                };
                if relevant {
                    // Fails only when full (a wake-up is pending anyway) or closed (shutting down).
                    let _ = tx.try_send(());
                }
            };
            match notify::recommended_watcher(handler) {
                Ok(w) => self.inner = Some(w),
                Err(e) => {
                    if !self.failed_once {
                        self.failed_once = true;
                        tracing::warn!(error = %e, "File notifications are unavailable; polling only.");
                    }
                    return;
                }
            }
        }
        let Some(w) = self.inner.as_mut() else { return };
        if let Some(old) = self.watching.take() {
            let _ = w.unwatch(&old);
        }
        if w.watch(dir, RecursiveMode::NonRecursive).is_ok() {
            self.watching = Some(dir.to_path_buf());
        }
    }
}
