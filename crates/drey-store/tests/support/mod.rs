//! Helpers of drey-store's integration tests.
#![allow(dead_code)]

pub mod postgres;
