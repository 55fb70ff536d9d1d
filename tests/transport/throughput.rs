//! Batches over kept-alive connections: how many connections a steady batch opens.

use std::sync::{Arc, Barrier};

use crate::support::gpt2;
use crate::support::keepalive::{KeepAliveServer, Reply};
use azureml_endpoint::{AzureMlOnlineEndpoint, CallOptions, Result};

const OK: &str = r#"[{"0": "done"}]"#;

/// Holds every request until `threads` are in flight, then answers them all at once: every
/// round needs `threads` connections, and all of them come back to the pool together (the burst
/// that a small pool drops).
fn lockstep(threads: usize) -> impl Fn(usize) -> Reply + Send + Sync + 'static {
    let barrier = Arc::new(Barrier::new(threads));
    move |_| {
        barrier.wait();
        Reply::new(200, OK)
    }
}

fn client(server: &KeepAliveServer) -> azureml_endpoint::Builder<dyn azureml_endpoint::ContentFormatter> {
    gpt2(server.url("/score"))
}

fn generate(llm: &AzureMlOnlineEndpoint, requests: usize, threads: usize) -> Result<()> {
    let prompts = vec!["x"; requests];
    for result in llm.generate(&prompts, &CallOptions::new().max_concurrency(threads)) {
        assert_eq!(result?.text, "done");
    }
    Ok(())
}

#[test]
fn a_steady_batch_of_8_threads_opens_exactly_8_connections() -> Result<()> {
    let server = KeepAliveServer::start(lockstep(8));
    let llm = client(&server).build()?;
    generate(&llm, 400, 8)?;
    assert_eq!(server.requests(), 400);
    assert_eq!(server.accepted(), 8);
    // The next batch reuses them all.
    generate(&llm, 80, 8)?;
    assert_eq!(server.accepted(), 8);
    Ok(())
}

#[test]
fn every_connection_of_a_finished_batch_is_kept_for_the_next() -> Result<()> {
    // Between two batches all 8 connections sit idle at once: a pool smaller than 8 (ureq's
    // default keeps 3) closes the rest, and the next batch opens them again.
    let server = KeepAliveServer::start(lockstep(8));
    let llm = client(&server).build()?;
    for _ in 0..10 {
        generate(&llm, 8, 8)?;
    }
    assert_eq!(server.accepted(), 8);
    Ok(())
}

#[test]
fn a_pool_smaller_than_the_concurrency_reopens_connections() -> Result<()> {
    let server = KeepAliveServer::start(lockstep(8));
    let llm = client(&server).max_idle_connections(2).build()?;
    for _ in 0..10 {
        generate(&llm, 8, 8)?;
    }
    // Each batch after the first finds 2 of the 8 kept and opens 6.
    assert_eq!(server.accepted(), 8 + 9 * 6);
    Ok(())
}

#[test]
fn no_idle_connections_is_a_new_connection_per_request() -> Result<()> {
    let server = KeepAliveServer::start(|_| Reply::new(200, OK));
    let llm = client(&server).max_idle_connections(0).build()?;
    generate(&llm, 20, 1)?;
    assert_eq!(server.accepted(), 20);
    Ok(())
}
