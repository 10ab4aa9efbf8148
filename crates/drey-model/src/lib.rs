//! drey's core domain model: the resource types every dialect renders, their
//! validation, and the defaults merge. This crate does no I/O: it knows no HTTP,
//! no SQL and no Flink client, so every layer above can share it.

pub mod application;
pub mod application_spec;
pub mod autoscaler;
pub mod catalog_spec;
pub mod cluster;
pub mod compute_pool_spec;
pub mod duration;
pub mod environment_spec;
pub mod error;
pub mod event;
pub mod flink_options;
pub mod identity;
pub mod json;
pub mod labels;
pub mod loose;
pub mod name;
pub mod object;
pub mod observation;
pub mod page;
pub mod public_status;
pub mod quota;
pub mod savepoint;
pub mod sql;
pub mod sql_options;
pub mod statement_spec;
pub mod time;
pub mod validate;

pub use error::{Error, Result};
pub use object::{Kind, Object, ObjectKey, ObjectMeta};
pub use observation::{Observation, Silence};
pub use page::{Page, PageRequest, SortDirection, SortKey, SortOrder};
pub use time::Timestamp;
