//! A miss that produced no record, shared by every request that waited on it.

use super::*;

/// Why a shared lookup produced no record.
#[derive(Debug)]
pub(super) enum Miss {
    Unknown,
    Store(StoreError),
}

/// A store error shared by every request that waited on the same miss.
#[derive(Debug)]
struct Shared(Arc<Miss>);

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Miss::Store(error) => fmt::Display::fmt(error, f),
            Miss::Unknown => f.write_str("unknown key id"),
        }
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            Miss::Store(error) => std::error::Error::source(error),
            Miss::Unknown => None,
        }
    }
}

pub(super) fn unshare(miss: Arc<Miss>) -> StoreError {
    match &*miss {
        Miss::Store(StoreError::Duplicate(id)) => StoreError::Duplicate(id.clone()),
        Miss::Store(StoreError::Corrupt(what)) => StoreError::Corrupt(what.clone()),
        _ => StoreError::unavailable(Shared(miss)),
    }
}
