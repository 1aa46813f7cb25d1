//! Key administration a service mounts (feature `admin`): the admin API as a router
//! ([`api`]) and a server-rendered web console ([`console`]).

pub mod api;
pub mod console;
