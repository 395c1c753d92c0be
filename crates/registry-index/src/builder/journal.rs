//! Draining the catalog's change journal into the index.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use registry_core::slug::Slug;
use registry_core::store::ChangeJournal;

use super::{ChangeReport, IndexBuilder, IndexError, Rerender};

/// Journal entries applied per round.
const JOURNAL_BATCH: usize = 256;

impl IndexBuilder {
    /// Applies every pending journal entry: the plugins' files, their bins, the
    /// snapshot and the timestamp, and only then marks the entries applied. A crash
    /// anywhere in between leaves them pending, and applying them again finishes
    /// what was interrupted (see [`IndexBuilder::update_changed`]).
    pub async fn apply_journal(
        &self,
        journal: &dyn ChangeJournal,
    ) -> Result<ChangeReport, IndexError> {
        let mut total = ChangeReport::default();
        loop {
            let entries = journal.pending_changes(JOURNAL_BATCH).await?;
            if entries.is_empty() {
                return Ok(total);
            }
            let mut changed: BTreeMap<Slug, Rerender> = BTreeMap::new();
            for entry in &entries {
                let rerender = Rerender::of(&entry.scope);
                match changed.entry(entry.slug.clone()) {
                    Entry::Occupied(wider) => wider.into_mut().absorb(rerender),
                    Entry::Vacant(slot) => {
                        slot.insert(rerender);
                    }
                }
            }
            let report = self.update_changed(&changed).await?;
            total.absorb(report);
            let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
            journal.mark_applied(&seqs).await?;
        }
    }
}
