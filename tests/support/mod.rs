#![allow(dead_code, unreachable_pub)]
//! Builders shared by the integration tests.

pub mod model;
