//! `poolbook_sync::channel` keeps `std::sync::mpsc`'s contract: the same checks run against both.

macro_rules! contract {
    ($name:ident, $($channel:ident)::+) => {
        mod $name {
            use std::sync::Arc;
            use std::sync::mpsc::{RecvError, SendError, TryRecvError};
            use std::thread;

            use $($channel)::+ as mpsc;

            #[test]
            fn buffered_messages_arrive_before_the_disconnection() {
                let (tx, rx) = mpsc::channel();
                tx.send(1).unwrap();
                tx.send(2).unwrap();
                drop(tx);
                assert_eq!(rx.recv(), Ok(1));
                assert_eq!(rx.recv(), Ok(2));
                assert_eq!(rx.recv(), Err(RecvError));
                assert_eq!(rx.recv(), Err(RecvError));
            }

            #[test]
            fn the_channel_stays_open_while_any_clone_lives() {
                let (tx, rx) = mpsc::channel();
                let tx2 = tx.clone();
                drop(tx);
                assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
                tx2.send(7).unwrap();
                assert_eq!(rx.recv(), Ok(7));
                drop(tx2);
                assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            }

            #[test]
            fn send_after_the_receiver_is_gone_hands_the_message_back() {
                let (tx, rx) = mpsc::channel();
                drop(rx);
                assert_eq!(tx.send(3), Err(SendError(3)));
            }

            #[test]
            fn dropping_the_receiver_drops_queued_messages() {
                let (tx, rx) = mpsc::channel();
                let message = Arc::new(());
                tx.send(Arc::clone(&message)).unwrap();
                assert_eq!(Arc::strong_count(&message), 2);
                drop(rx);
                assert_eq!(Arc::strong_count(&message), 1);
            }

            #[test]
            fn a_blocked_receiver_wakes_for_a_message_then_for_the_disconnection() {
                let (tx, rx) = mpsc::channel();
                let sender = thread::spawn(move || {
                    tx.send("hello").unwrap();
                    // `tx` is dropped here, while the receiver may already be waiting again.
                });
                assert_eq!(rx.recv(), Ok("hello"));
                assert_eq!(rx.recv(), Err(RecvError));
                sender.join().unwrap();
            }
        }
    };
}

contract!(std_mpsc, std::sync::mpsc);
contract!(poolbook_channel, poolbook_sync::channel);
