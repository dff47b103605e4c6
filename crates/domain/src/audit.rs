//! The audit chain: each event carries the hash of the one before, so an edited, deleted
//! or reordered row is found by recomputing the chain. Pure: hashing and checking only;
//! the store appends and streams rows.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit event as stored. `seq` is gapless (assigned under the chain-head lock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    /// UTC microseconds since the Unix epoch.
    pub at: i64,
    pub actor_user_id: Option<i64>,
    /// Who acted, as shown: a username, `system`, or `cli:<os user>`.
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// JSON: `{"before": …, "after": …}` or a diff; personal identifiers already masked.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields of an event before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent<'a> {
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub detail: &'a str,
}

/// SHA-256 over the previous hash and a length-prefixed encoding of every field, so no
/// two different events share bytes (a `|` inside a field cannot shift a boundary).
pub fn event_hash(seq: i64, prev_hash: &str, e: &NewAuditEvent<'_>) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(e.at.to_be_bytes());
    h.update(e.actor_user_id.unwrap_or(-1).to_be_bytes());
    for field in [e.actor, e.action, e.entity, e.entity_id, e.detail] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

impl AuditEvent {
    fn as_new(&self) -> NewAuditEvent<'_> {
        NewAuditEvent {
            at: self.at,
            actor_user_id: self.actor_user_id,
            actor: &self.actor,
            action: &self.action,
            entity: &self.entity,
            entity_id: &self.entity_id,
            detail: &self.detail,
        }
    }
}

/// The first place the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainBreak {
    /// The row's content no longer matches its hash: edited.
    Altered { seq: i64 },
    /// The row does not follow the one before it: a row was deleted, inserted or reordered.
    Unlinked { seq: i64, expected_seq: i64 },
    /// The last row is not the recorded chain head: rows at the end were deleted.
    Truncated { head_seq: i64, last_seq: i64 },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Altered { seq } => {
                write!(f, "event {seq}: content does not match its hash (row edited)")
            }
            ChainBreak::Unlinked { seq, expected_seq } => write!(
                f,
                "event {seq}: does not link to the event before it (expected event {expected_seq} here; rows deleted, inserted or reordered)"
            ),
            ChainBreak::Truncated { head_seq, last_seq } => write!(
                f,
                "event {}: missing (chain head says {head_seq}, last row is {last_seq}; rows deleted at the end)",
                last_seq + 1
            ),
        }
    }
}

/// Walks events in stored order, one at a time, so a long log is checked in bounded memory.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// Checks the next event; the first error is the first broken link.
    pub fn check(&mut self, e: &AuditEvent) -> Result<(), ChainBreak> {
        if e.seq != self.expected_seq || e.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked {
                seq: e.seq,
                expected_seq: self.expected_seq,
            });
        }
        if event_hash(e.seq, &e.prev_hash, &e.as_new()) != e.hash {
            return Err(ChainBreak::Altered { seq: e.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = e.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// After the last event: the chain must end where the head says it does.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<u64, ChainBreak> {
        let last_seq = self.expected_seq - 1;
        if last_seq != head_seq || self.prev_hash != head_hash {
            return Err(ChainBreak::Truncated { head_seq, last_seq });
        }
        Ok(self.checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEvent> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let detail = format!("{{\"n\":{seq}}}");
                let new = NewAuditEvent {
                    at: seq * 1000,
                    actor_user_id: Some(7),
                    actor: "admin",
                    action: "user.create",
                    entity: "user",
                    entity_id: "7",
                    detail: &detail,
                };
                let hash = event_hash(seq, &prev, &new);
                let e = AuditEvent {
                    seq,
                    at: new.at,
                    actor_user_id: new.actor_user_id,
                    actor: new.actor.into(),
                    action: new.action.into(),
                    entity: new.entity.into(),
                    entity_id: new.entity_id.into(),
                    detail: detail.clone(),
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(events: &[AuditEvent], head: (i64, &str)) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for e in events {
            v.check(e)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, (5, &c[4].hash)), Ok(5));
        assert_eq!(verify(&[], (0, GENESIS_HASH)), Ok(0));
    }

    #[test]
    fn edit_is_named() {
        let mut c = chain(5);
        c[2].detail = "{\"n\":99}".into();
        let head = c[4].hash.clone();
        assert_eq!(verify(&c, (5, &head)), Err(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn delete_in_the_middle_is_named() {
        let mut c = chain(5);
        let head = c[4].hash.clone();
        c.remove(1);
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Unlinked {
                seq: 3,
                expected_seq: 2
            })
        );
    }

    #[test]
    fn delete_at_the_end_is_named() {
        let mut c = chain(5);
        let head = c[4].hash.clone();
        c.pop();
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Truncated {
                head_seq: 5,
                last_seq: 4
            })
        );
    }

    #[test]
    fn reorder_is_named() {
        let mut c = chain(5);
        let head = c[4].hash.clone();
        // Swap the contents of rows 2 and 3 but keep their seq numbers in place.
        let (a, b) = (c[1].clone(), c[2].clone());
        c[1] = AuditEvent { seq: 2, ..b };
        c[2] = AuditEvent { seq: 3, ..a };
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Unlinked {
                seq: 2,
                expected_seq: 2
            })
        );
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let a = NewAuditEvent {
            at: 1,
            actor_user_id: None,
            actor: "ab",
            action: "c",
            entity: "",
            entity_id: "",
            detail: "",
        };
        let b = NewAuditEvent {
            actor: "a",
            action: "bc",
            ..a.clone()
        };
        assert_ne!(
            event_hash(1, GENESIS_HASH, &a),
            event_hash(1, GENESIS_HASH, &b)
        );
    }
}
