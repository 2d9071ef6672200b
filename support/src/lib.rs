//! What `sim bench-http` and the tests need around the service, kept out of the product's
//! libraries: launchers of a real `redis-server` and a real `nginx` on free loopback ports
//! ([`deploy`]), and hostile HTTP clients ([`hostile`]).

pub mod deploy;
pub mod hostile;
