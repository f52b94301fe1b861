//! loom models of `poolbook_sync::channel`: its contract holds in every interleaving; and of the
//! channel the facade's `mpsc` stands for, under loom and under shuttle.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p poolbook-sync --test loom --profile loom`, or
//! with `--cfg shuttle`; the workspace's `tests/loom_models.rs` does both as part of the normal
//! test command.
#![cfg(any(loom, shuttle, stress))]

use std::sync::mpsc::{RecvError, SendError};

use poolbook_sync::channel::channel;
use poolbook_sync::model::check;
use poolbook_sync::thread;

#[test]
fn every_message_arrives_before_the_disconnection() {
    check(|| {
        let (tx, rx) = channel();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.send(1).unwrap());
        let b = thread::spawn(move || tx2.send(2).unwrap());
        let mut got = [rx.recv().unwrap(), rx.recv().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(rx.recv(), Err(RecvError));
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn a_waiting_receiver_wakes_when_the_last_sender_leaves() {
    check(|| {
        let (tx, rx) = channel::<i32>();
        let tx2 = tx.clone();
        let a = thread::spawn(move || drop(tx));
        let b = thread::spawn(move || drop(tx2));
        assert_eq!(rx.recv(), Err(RecvError));
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn a_send_racing_the_receivers_drop_is_delivered_or_handed_back() {
    check(|| {
        let (tx, rx) = channel();
        let receiver = thread::spawn(move || drop(rx));
        match tx.send(5) {
            Ok(()) | Err(SendError(5)) => {}
            Err(SendError(other)) => panic!("got back {other}, not the message sent"),
        }
        receiver.join().unwrap();
    });
}

// ANCHOR: facade-channel
/// The channel the pools get from the facade reports that the last sender is gone, after the
/// messages sent before: under loom, that is [`channel`] (loom's own would wait forever:
/// tokio-rs/loom#213); under shuttle, it is shuttle's own `mpsc`, and this model is what shows
/// that shuttle's keeps std's contract.
#[test]
fn the_facades_channel_reports_the_last_senders_departure() {
    check(|| {
        let (tx, rx) = poolbook_sync::mpsc::channel::<i32>();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.send(1).unwrap());
        let b = thread::spawn(move || drop(tx2));
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Err(RecvError));
        a.join().unwrap();
        b.join().unwrap();
    });
}
// ANCHOR_END: facade-channel
