//! The admin API as a router a service nests.
