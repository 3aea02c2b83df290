//! The compact form of a reference: every delegation of a zone (owner → NS set) in a few flat
//! byte buffers, built without holding the zone.
//!
//! Owners and NS sets are stored as text in the form the probe engine compares replies in
//! (lowercase, fully qualified, `Name::to_ascii` spelling; an NS set is its targets sorted,
//! deduplicated and joined by `\n`). Identical NS sets (a registrar's shared name servers) are
//! stored once. A delegation costs its owner's bytes, 8 bytes of offsets and its NS set's bytes
//! when that set is new: about 60 bytes each for the 1,000,000 delegations of the bench zone,
//! and well under a gigabyte for 20 million names.

use hickory_proto::rr::Name;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Every delegation of one zone: owner → NS set, in zone order of first appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegations {
    /// The apex.
    origin: Name,
    /// The SOA serial of the reference (0 when it had no SOA).
    serial: u32,
    /// Owner names, concatenated.
    names: Vec<u8>,
    /// End offset in `names` of each owner.
    name_ends: Vec<u32>,
    /// The NS set of each delegation (an index into `set_ends`).
    set_of: Vec<u32>,
    /// NS sets, concatenated (targets joined by `\n`).
    sets: Vec<u8>,
    /// End offset in `sets` of each set.
    set_ends: Vec<u32>,
}

impl Delegations {
    /// The apex.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The SOA serial of the reference (0 when it had no SOA).
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The number of delegations.
    pub fn len(&self) -> usize {
        self.name_ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.name_ends.is_empty()
    }

    /// Distinct NS sets stored.
    pub fn distinct_sets(&self) -> usize {
        self.set_ends.len()
    }

    /// Bytes held by the buffers (for logs and tests).
    pub fn heap_bytes(&self) -> usize {
        self.names.capacity()
            + self.sets.capacity()
            + 4 * (self.name_ends.capacity() + self.set_of.capacity() + self.set_ends.capacity())
    }

    /// The owner of delegation `i`, as text (lowercase, fully qualified).
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn name_text(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.name_ends[i - 1] as usize
        };
        // Only text from `str`s goes into the buffers, cut at char boundaries.
        std::str::from_utf8(&self.names[start..self.name_ends[i] as usize]).unwrap_or("")
    }

    /// The NS set of delegation `i`, targets joined by `\n`, sorted.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn set_text(&self, i: usize) -> &str {
        let s = self.set_of[i] as usize;
        let start = if s == 0 {
            0
        } else {
            self.set_ends[s - 1] as usize
        };
        std::str::from_utf8(&self.sets[start..self.set_ends[s] as usize]).unwrap_or("")
    }

    /// The NS targets of delegation `i`, sorted.
    pub fn targets(&self, i: usize) -> impl Iterator<Item = &str> {
        self.set_text(i).split('\n')
    }

    /// Delegation `i` in the form checks use: its owner and its NS set as a vector.
    pub fn get(&self, i: usize) -> (Name, Vec<String>) {
        let name = Name::from_str(self.name_text(i)).unwrap_or_else(|_| Name::root());
        (name, self.targets(i).map(str::to_string).collect())
    }

    /// The position of `owner` (lowercase, fully qualified text), by linear search (for tests
    /// and single look-ups; sampling and sweeps go by index).
    pub fn position(&self, owner: &str) -> Option<usize> {
        (0..self.len()).find(|&i| self.name_text(i) == owner)
    }
}

/// Collects NS records one at a time (from a zone file being read, or an AXFR stream) and
/// turns them into [`Delegations`]. Records of one owner need not be adjacent.
#[derive(Debug)]
pub struct DelegationsBuilder {
    origin: Name,
    serial: u32,
    /// Every owner, as seen (one entry per run of records with the same owner).
    owners: Vec<u8>,
    /// Every target, as seen.
    targets: Vec<u8>,
    /// (owner start, owner end, target start, target end) of each NS record.
    pairs: Vec<[u32; 4]>,
    /// The last owner added, to share its bytes with the next record of the same owner.
    last_owner: Option<(u32, u32)>,
}

impl DelegationsBuilder {
    /// An empty builder for the zone `origin`.
    pub fn new(origin: Name) -> Self {
        let mut origin = origin.to_lowercase();
        origin.set_fqdn(true);
        Self {
            origin,
            serial: 0,
            owners: Vec::new(),
            targets: Vec::new(),
            pairs: Vec::new(),
            last_owner: None,
        }
    }

    /// The apex.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// Records the SOA serial.
    pub fn set_serial(&mut self, serial: u32) {
        self.serial = serial;
    }

    /// Adds the NS record `owner NS target`, both lowercase and fully qualified text. NS
    /// records at the apex are not delegations and are skipped by the callers.
    pub fn add_ns(&mut self, owner: &str, target: &str) {
        let (os, oe) = match self.last_owner {
            Some((s, e)) if &self.owners[s as usize..e as usize] == owner.as_bytes() => (s, e),
            _ => {
                let s = self.owners.len() as u32;
                self.owners.extend_from_slice(owner.as_bytes());
                let e = self.owners.len() as u32;
                self.last_owner = Some((s, e));
                (s, e)
            }
        };
        let ts = self.targets.len() as u32;
        self.targets.extend_from_slice(target.as_bytes());
        let te = self.targets.len() as u32;
        self.pairs.push([os, oe, ts, te]);
    }

    /// NS records added so far.
    pub fn records(&self) -> usize {
        self.pairs.len()
    }

    /// Bytes of the records added so far (owners, targets and their offsets; the buffers'
    /// capacity can be up to twice this).
    pub fn held_bytes(&self) -> usize {
        self.owners.len() + self.targets.len() + 16 * self.pairs.len()
    }

    /// Groups the records by owner (first appearance order), sorts and deduplicates each NS
    /// set, and stores identical sets once.
    pub fn finish(self) -> Delegations {
        let DelegationsBuilder {
            origin,
            serial,
            owners,
            targets,
            pairs,
            ..
        } = self;
        let records = Records {
            owners: &owners,
            targets: &targets,
            pairs: &pairs,
        };
        let order = records.sorted();
        let groups = records.groups(&order);
        let mut out = Delegations {
            origin,
            serial,
            names: Vec::new(),
            name_ends: Vec::with_capacity(groups.len()),
            set_of: Vec::with_capacity(groups.len()),
            sets: Vec::new(),
            set_ends: Vec::new(),
        };
        let mut interned: HashMap<u64, u32> = HashMap::new();
        let mut set = Vec::new();
        for (_, from, to) in groups {
            let group = &order[from as usize..to as usize];
            out.names.extend_from_slice(records.owner(group[0]));
            out.name_ends.push(out.names.len() as u32);
            records.join_targets(group, &mut set);
            let id = out.intern_set(&mut interned, &set);
            out.set_of.push(id);
        }
        // The raw records go before the shrinks below reallocate, so the peak holds one copy.
        drop((order, owners, targets, pairs));
        out.names.shrink_to_fit();
        out.sets.shrink_to_fit();
        out.set_ends.shrink_to_fit();
        out
    }
}

/// The builder's NS records, read by index.
struct Records<'a> {
    owners: &'a [u8],
    targets: &'a [u8],
    pairs: &'a [[u32; 4]],
}

impl Records<'_> {
    /// The owner of record `i`.
    fn owner(&self, i: u32) -> &[u8] {
        let p = &self.pairs[i as usize];
        &self.owners[p[0] as usize..p[1] as usize]
    }

    /// The target of record `i`.
    fn target(&self, i: u32) -> &[u8] {
        let p = &self.pairs[i as usize];
        &self.targets[p[2] as usize..p[3] as usize]
    }

    /// The record indexes sorted by (owner, target, index).
    fn sorted(&self) -> Vec<u32> {
        let mut idx: Vec<u32> = (0..self.pairs.len() as u32).collect();
        idx.sort_unstable_by(|&a, &b| {
            self.owner(a)
                .cmp(self.owner(b))
                .then_with(|| self.target(a).cmp(self.target(b)))
                .then(a.cmp(&b))
        });
        idx
    }

    /// The owners' groups in the sorted `order`, as (first record index, range in `order`),
    /// in first-appearance order of the owners.
    fn groups(&self, order: &[u32]) -> Vec<(u32, u32, u32)> {
        let mut groups: Vec<(u32, u32, u32)> = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let first = order[i];
            let mut j = i + 1;
            let mut min = first;
            while j < order.len() && self.owner(order[j]) == self.owner(first) {
                min = min.min(order[j]);
                j += 1;
            }
            groups.push((min, i as u32, j as u32));
            i = j;
        }
        groups.sort_unstable_by_key(|g| g.0);
        groups
    }

    /// Writes the targets of one group (sorted records) into `set`, deduplicated and joined
    /// by `\n`.
    fn join_targets(&self, group: &[u32], set: &mut Vec<u8>) {
        set.clear();
        let mut prev: Option<&[u8]> = None;
        for &k in group {
            let t = self.target(k);
            if prev == Some(t) {
                continue;
            }
            if prev.is_some() {
                set.push(b'\n');
            }
            set.extend_from_slice(t);
            prev = Some(t);
        }
    }
}

impl Delegations {
    /// The id of NS set `set`: the stored one with the same hash and bytes, else a new one.
    fn intern_set(&mut self, interned: &mut HashMap<u64, u32>, set: &[u8]) -> u32 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        set.hash(&mut h);
        let key = h.finish();
        match interned.get(&key) {
            Some(&id) if set_bytes(&self.sets, &self.set_ends, id as usize) == set => id,
            _ => {
                self.sets.extend_from_slice(set);
                self.set_ends.push(self.sets.len() as u32);
                let id = self.set_ends.len() as u32 - 1;
                interned.entry(key).or_insert(id);
                id
            }
        }
    }
}

fn set_bytes<'a>(sets: &'a [u8], ends: &[u32], id: usize) -> &'a [u8] {
    let start = if id == 0 { 0 } else { ends[id - 1] as usize };
    &sets[start..ends[id] as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_sorts_dedups_and_interns() {
        let mut b = DelegationsBuilder::new(Name::from_str("CN").unwrap());
        b.add_ns("b.cn.", "ns2.x.net.");
        b.add_ns("a.cn.", "ns1.x.net.");
        b.add_ns("b.cn.", "ns1.x.net.");
        b.add_ns("a.cn.", "ns2.x.net.");
        b.add_ns("a.cn.", "ns2.x.net.");
        b.add_ns("c.cn.", "ns9.c.cn.");
        let d = b.finish();
        assert_eq!(d.origin().to_ascii(), "cn.");
        assert_eq!(d.len(), 3);
        assert_eq!(d.name_text(0), "b.cn.", "first appearance order");
        assert_eq!(d.name_text(1), "a.cn.");
        assert_eq!(d.set_text(0), "ns1.x.net.\nns2.x.net.");
        assert_eq!(d.set_text(1), d.set_text(0));
        assert_eq!(d.distinct_sets(), 2, "a and b share one stored set");
        assert_eq!(
            d.get(2),
            (
                Name::from_str("c.cn.").unwrap(),
                vec!["ns9.c.cn.".to_string()]
            )
        );
        assert_eq!(d.position("a.cn."), Some(1));
    }
}
