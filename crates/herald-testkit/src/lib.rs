//! Test helpers for herald (a dev-dependency only): a real loopback HTTP
//! [`Receiver`] that records every request and answers as told by a
//! [`Behavior`], and [`free_port`] for an address where nothing listens.
//!
//! ```ignore
//! let rx = Receiver::start().await;
//! rx.respond(Behavior::statuses([503, 200], Behavior::status(200)));
//! // ... make herald call rx.url_for("/hook") ...
//! let got = rx.wait_for(2, Duration::from_secs(5)).await;
//! assert_eq!(got[1].header("x-ms-dynamics-request-name"), Some("create"));
//! ```

pub mod behavior;
pub mod port;
pub mod receiver;

pub use behavior::{Behavior, Reply};
pub use port::{free_port, FreePort};
pub use receiver::{Captured, Receiver};
