//! The TIME lab: a line protocol, a server for it on poolbook's thread pool, and the clients and
//! measurements of the networking course's lab, redone.
//!
//! The protocol, as the lab set it: TCP, port 45000; a request is a line that starts with `TIME`
//! and ends with CR LF; the reply is `JAM hh:mm:ss` and CR LF. This crate fixes what the lab left
//! open: requests are buffered up to their CR LF whatever the reads deliver, have a maximum length,
//! an unknown or over-long request gets a documented error reply, `QUIT` closes the connection,
//! and a connection may carry any number of requests.
//!
//! The clients ([`client`]) make requests with a thread per connection, a pool of threads, or a
//! process per connection, as the lab's did, but bounded, and waiting for every thread and
//! process they start; [`measure`] sorts what happened into a report, and [`probe`] reads the
//! threads, descriptors and descriptor limit of a process from `/proc`.

pub mod async_server;
pub mod client;
pub mod figures;
pub mod measure;
pub mod model;
pub mod probe;
pub mod protocol;
pub mod results;
pub mod server;
pub mod sweep;
