//! System Jobs: async steps run by durable workers. The job row
//! (`asyncoperation`) and its queue entry are written with the data change
//! (see `pipeline::dispatch`); workers here claim them with a lease,
//! deliver, and record every attempt and the outcome.

pub mod bulk_delete;
pub mod complete;
pub mod control;
pub mod handoff;
pub mod lanes;
pub mod retention;
pub mod run;
pub mod wake;
pub mod worker;

pub use control::{ControlError, JobChange};
pub use worker::{spawn_workers, WorkerHandle};
