//! A bounded queue between two threads of the `read` pipeline that wakes a sender blocked on a
//! full queue only once the queue has drained to a low mark, not at every item taken.
//!
//! Why: the decoding thread is faster than the tracking thread, so the queue of batches between
//! them is full nearly all the time. With a plain bounded channel, every batch the tracker took
//! woke the decoder, which decoded one batch and slept again: a wake-up per batch (about 1,200
//! on the small-packet benchmark), each a futex call on the tracking thread that, on a virtual
//! machine, sends an interrupt to the other CPU, and a sleep and a wake-up on the other. Woken
//! at the low mark, the decoder fills the queue in one go.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct State<T> {
    items: VecDeque<T>,
    sender_gone: bool,
    receiver_gone: bool,
    sender_waits: bool,
    receiver_waits: bool,
    /// Times a blocked sender was woken to make room (for the tests).
    sender_wakes: u64,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signalled when an item arrives or the sender is gone.
    arrived: Condvar,
    /// Signalled when the queue drained to the low mark or the receiver is gone.
    room: Condvar,
    cap: usize,
    low: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic on the other thread while it held the lock leaves plain data behind (a
        // queue and flags): go on with it, the pipeline notices the dead thread on its own.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending side; dropping it ends the queue once the receiver has taken what is in it.
pub struct Sender<T>(Arc<Shared<T>>);

/// The receiving side; dropping it makes every later send fail.
pub struct Receiver<T>(Arc<Shared<T>>);

/// A queue of at most `cap` items; a sender blocked on a full queue is woken when at most
/// `low` items are left (`low < cap`).
pub fn bounded<T>(cap: usize, low: usize) -> (Sender<T>, Receiver<T>) {
    assert!(low < cap, "the low mark must be below the capacity");
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::with_capacity(cap),
            sender_gone: false,
            receiver_gone: false,
            sender_waits: false,
            receiver_waits: false,
            sender_wakes: 0,
        }),
        arrived: Condvar::new(),
        room: Condvar::new(),
        cap,
        low,
    });
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Adds `item`, waiting while the queue is full; gives it back if the receiver is gone.
    pub fn send(&self, item: T) -> Result<(), T> {
        let q = &self.0;
        let mut s = q.lock();
        while s.items.len() >= q.cap && !s.receiver_gone {
            s.sender_waits = true;
            s = q.room.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.sender_waits = false;
        if s.receiver_gone {
            return Err(item);
        }
        s.items.push_back(item);
        if s.receiver_waits {
            q.arrived.notify_one();
        }
        Ok(())
    }
}

impl<T> Receiver<T> {
    /// The next item, waiting for one; `None` once the sender is gone and the queue is empty.
    pub fn recv(&self) -> Option<T> {
        let q = &self.0;
        let mut s = q.lock();
        loop {
            if let Some(item) = Self::take(q, &mut s) {
                return Some(item);
            }
            if s.sender_gone {
                return None;
            }
            s.receiver_waits = true;
            s = q.arrived.wait(s).unwrap_or_else(|e| e.into_inner());
            s.receiver_waits = false;
        }
    }

    /// The next item if one is there now.
    pub fn try_recv(&self) -> Option<T> {
        let q = &self.0;
        Self::take(q, &mut q.lock())
    }

    fn take(q: &Shared<T>, s: &mut State<T>) -> Option<T> {
        let item = s.items.pop_front()?;
        if s.sender_waits && s.items.len() <= q.low {
            // Cleared here, so that the items taken before the sender runs wake it only once.
            s.sender_waits = false;
            s.sender_wakes += 1;
            q.room.notify_one();
        }
        Some(item)
    }

    #[cfg(test)]
    fn sender_wakes(&self) -> u64 {
        self.0.lock().sender_wakes
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.arrived.notify_one();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.receiver_gone = true;
        // What is still queued is dropped here, on the receiver's side, as a channel would.
        s.items.clear();
        drop(s);
        self.0.room.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn items_arrive_in_order_and_a_full_queue_wakes_its_sender_at_the_low_mark() {
        let (tx, rx) = bounded::<u32>(4, 1);
        let n = 3_000;
        let producer = std::thread::spawn(move || {
            for i in 0..n {
                tx.send(i).unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(i) = rx.recv() {
            got.push(i);
            if got.len() % 97 == 0 {
                // A slow receiver now and then: the sender fills the queue and waits.
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        producer.join().unwrap();
        assert_eq!(got, (0..n).collect::<Vec<_>>());
        let wakes = rx.sender_wakes();
        // At most one wake-up per (cap - low) items taken; a wake-up per item would be 3,000.
        assert!(wakes <= u64::from(n) / 3 + 1, "{wakes} wake-ups");
        assert!(wakes > 0, "the sender never waited");
    }

    #[test]
    fn a_sender_blocked_on_a_full_queue_fails_when_the_receiver_goes() {
        let (tx, rx) = bounded::<u32>(2, 0);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        let sender = std::thread::spawn(move || tx.send(3));
        std::thread::sleep(Duration::from_millis(20));
        drop(rx);
        assert_eq!(sender.join().unwrap(), Err(3));
    }

    #[test]
    fn a_receiver_gets_what_is_queued_then_none_when_the_sender_is_gone() {
        let (tx, rx) = bounded::<&str>(3, 1);
        assert_eq!(rx.try_recv(), None);
        tx.send("a").unwrap();
        tx.send("b").unwrap();
        let waiting = std::thread::spawn(move || {
            let first = rx.recv();
            let second = rx.try_recv();
            // Blocks until the sender is gone.
            let third = rx.recv();
            (first, second, third)
        });
        std::thread::sleep(Duration::from_millis(20));
        drop(tx);
        assert_eq!(waiting.join().unwrap(), (Some("a"), Some("b"), None));
    }
}
