//! The SigV4 signing key, kept for as long as it holds.
//!
//! The key depends only on the secret, the date, the region and the
//! service, yet aws-sigv4's `sign()` derives it for every request: four
//! HMACs. One set of credentials keeps it here, per date and region, and
//! derives it again only when either changes.

use std::sync::Mutex;
use std::time::SystemTime;

use aws_sigv4::sign::v4;

use super::SERVICE;

#[derive(Debug, Default)]
pub struct DayKey {
    last: Mutex<Option<Derived>>,
}

#[derive(Debug)]
struct Derived {
    date: String,
    region: String,
    key: [u8; 32],
}

impl DayKey {
    /// The signing key for `secret` on `date` (`YYYYMMDD`, the date of
    /// `now`) in `region`. The secret must be the same on every call: one
    /// `DayKey` belongs to one set of credentials.
    pub fn get(&self, secret: &str, date: &str, now: SystemTime, region: &str) -> [u8; 32] {
        // A poisoned lock only means another thread panicked mid-update;
        // the key is derived afresh below whatever the lock held.
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kept) = last
            .as_ref()
            .filter(|k| k.date == date && k.region == region)
        {
            return kept.key;
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(v4::generate_signing_key(secret, now, region, SERVICE).as_ref());
        *last = Some(Derived {
            date: date.to_owned(),
            region: region.to_owned(),
            key,
        });
        key
    }
}
