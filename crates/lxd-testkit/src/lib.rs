//! An in-process, stateful imitation of an LXD server for tests.
//!
//! This crate is a placeholder: its own issue fills it.
