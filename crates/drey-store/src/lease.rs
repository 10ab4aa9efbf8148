//! Leases and fences: one replica at a time runs the reconcilers. The lease
//! is a row with a holder, an expiry by the database's clock (so replicas'
//! clocks never matter) and an epoch that grows whenever the lease is taken
//! anew. A reconciler write carries the [`Fence`] it acted under; the write
//! checks it in its own transaction, so a replica that lost the lease —
//! paused, partitioned or slow — can no longer write, whatever it believes.
//!
//! Both backends run the same statements; only the clock expression and the
//! parameter sigil differ.

/// A reconciler's claim to act: the lease it holds and the epoch it got it
/// in. A write that carries one fails with [`crate::StoreError::Fenced`]
/// unless the lease is still this holder's, in this epoch, and unexpired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The lease's name (`reconcilers`).
    pub lease: String,
    /// Who holds it (a replica id).
    pub holder: String,
    /// The epoch it was taken in.
    pub epoch: i64,
}

/// The SQL spelling of one backend.
#[derive(Clone, Copy)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Now, in ms since the Unix epoch, by the database's clock.
    fn now_ms(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
            Dialect::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        }
    }

    /// Parameter `n` (1-based).
    fn param(self, n: u8) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// Takes or renews lease `$1` for holder `$2` for `$3` ms and returns the
    /// epoch; no row when another holder's lease has not expired. The epoch
    /// stays while the same holder renews in time and grows otherwise, so
    /// writes fenced with an epoch from before a gap are refused.
    pub(crate) fn acquire_sql(self) -> String {
        let now = self.now_ms();
        let (name, holder, ttl) = (self.param(1), self.param(2), self.param(3));
        format!(
            "INSERT INTO leases (name, holder, epoch, expires_at) \
             VALUES ({name}, {holder}, 1, {now} + {ttl}) \
             ON CONFLICT (name) DO UPDATE SET \
               epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > {now} \
                       THEN leases.epoch ELSE leases.epoch + 1 END, \
               holder = excluded.holder, \
               expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= {now} \
             RETURNING epoch"
        )
    }

    /// Gives lease `$1` up if holder `$2` has it, so another replica may
    /// take it at once.
    pub(crate) fn release_sql(self) -> String {
        format!(
            "UPDATE leases SET expires_at = 0 WHERE name = {} AND holder = {}",
            self.param(1),
            self.param(2)
        )
    }

    /// One row iff fence (`$1`, `$2`, `$3`) still holds. PostgreSQL keeps
    /// the lease row share-locked until the write commits, so a takeover
    /// waits for the write, and a write after a takeover sees it.
    pub(crate) fn fence_sql(self) -> String {
        let lock = match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR SHARE",
        };
        format!(
            "SELECT epoch FROM leases WHERE name = {} AND holder = {} AND epoch = {} \
             AND expires_at > {}{lock}",
            self.param(1),
            self.param(2),
            self.param(3),
            self.now_ms()
        )
    }
}

/// The error of a write whose fence no longer holds.
pub(crate) fn fenced(fence: &Fence) -> crate::StoreError {
    crate::StoreError::Fenced(format!(
        "replica '{}' no longer holds the '{}' lease of epoch {}",
        fence.holder, fence.lease, fence.epoch
    ))
}
