//! A bounded cache of model-classifier answers: entries expire after a
//! time to live, and when full the least recently used entry makes room.
//!
//! The clock is a parameter so expiry can be tested without sleeping.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Cache key: the SHA-256 of the message text.
pub(crate) type Key = [u8; 32];

struct Slot {
    intent: String,
    stored: Instant,
    /// Position in the recency order.
    tick: u64,
}

pub(crate) struct IntentCache {
    capacity: usize,
    ttl: Duration,
    slots: HashMap<Key, Slot>,
    /// Recency order: smallest tick is the least recently used.
    recency: BTreeMap<u64, Key>,
    next_tick: u64,
}

impl IntentCache {
    /// A cache of at most `capacity` entries (0 caches nothing), each kept
    /// for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl,
            slots: HashMap::new(),
            recency: BTreeMap::new(),
            next_tick: 0,
        }
    }

    /// The intent stored for `key`, if still fresh at `now`.
    pub fn get(&mut self, key: &Key, now: Instant) -> Option<String> {
        let slot = self.slots.get(key)?;
        if now.saturating_duration_since(slot.stored) >= self.ttl {
            self.remove(key);
            return None;
        }
        let intent = slot.intent.clone();
        self.touch(key);
        Some(intent)
    }

    /// Stores `intent` for `key` at `now`, evicting the least recently
    /// used entry when full.
    pub fn insert(&mut self, key: Key, intent: String, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        self.remove(&key);
        while self.slots.len() >= self.capacity {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.slots.remove(&oldest);
        }
        let tick = self.bump();
        self.recency.insert(tick, key);
        self.slots.insert(
            key,
            Slot {
                intent,
                stored: now,
                tick,
            },
        );
    }

    /// How many entries are held (fresh or not yet noticed to be stale).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    fn touch(&mut self, key: &Key) {
        let tick = self.bump();
        if let Some(slot) = self.slots.get_mut(key) {
            self.recency.remove(&slot.tick);
            slot.tick = tick;
            self.recency.insert(tick, *key);
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some(slot) = self.slots.remove(key) {
            self.recency.remove(&slot.tick);
        }
    }

    fn bump(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        [n; 32]
    }

    #[test]
    fn expires_after_ttl() {
        let t0 = Instant::now();
        let mut cache = IntentCache::new(4, Duration::from_secs(60));
        cache.insert(key(1), "chitchat".into(), t0);
        assert_eq!(
            cache.get(&key(1), t0 + Duration::from_secs(59)).as_deref(),
            Some("chitchat")
        );
        assert_eq!(cache.get(&key(1), t0 + Duration::from_secs(60)), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn evicts_least_recently_used() {
        let t0 = Instant::now();
        let mut cache = IntentCache::new(2, Duration::from_secs(60));
        cache.insert(key(1), "a".into(), t0);
        cache.insert(key(2), "b".into(), t0);
        assert!(cache.get(&key(1), t0).is_some()); // 2 is now the oldest
        cache.insert(key(3), "c".into(), t0);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&key(2), t0), None);
        assert!(cache.get(&key(1), t0).is_some());
        assert!(cache.get(&key(3), t0).is_some());
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let t0 = Instant::now();
        let mut cache = IntentCache::new(0, Duration::from_secs(60));
        cache.insert(key(1), "a".into(), t0);
        assert_eq!(cache.get(&key(1), t0), None);
    }
}
