//! Files the macro reads, parsed once per content.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Parsed files by path and content: a crate with many handlers parses each file once, and a
/// long-lived macro server (an IDE's) still sees edits. Kept per thread, in a `thread_local!`.
pub(crate) struct FileCache<T>(RefCell<Vec<(PathBuf, String, Rc<T>)>>);

impl<T> FileCache<T> {
    pub(crate) const fn new() -> Self {
        FileCache(RefCell::new(Vec::new()))
    }

    /// Reads `path` and parses it with `parse`, or reuses the parse of the same content; `None`
    /// when the file cannot be read.
    pub(crate) fn read(&self, path: &Path, parse: impl FnOnce(&str) -> T) -> Option<Rc<T>> {
        let text = std::fs::read_to_string(path).ok()?;
        let cached = self.0.try_borrow().ok().and_then(|cache| {
            cache
                .iter()
                .find(|(p, t, _)| p == path && *t == text)
                .map(|(_, _, parsed)| Rc::clone(parsed))
        });
        if cached.is_some() {
            return cached;
        }
        let parsed = Rc::new(parse(&text));
        if let Ok(mut cache) = self.0.try_borrow_mut() {
            cache.retain(|(p, _, _)| p != path);
            cache.push((path.to_path_buf(), text, Rc::clone(&parsed)));
        }
        Some(parsed)
    }
}
