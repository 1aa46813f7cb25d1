//! The web console: server-rendered pages to look at and manage keys.
