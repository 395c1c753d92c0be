//! In-memory search over the catalog's listings: an inverted index of lowercase
//! terms, matched exactly or by prefix, ranked by relevance then downloads.
//!
//! Every query term must match (AND). A term scores by where it matched: the slug
//! and name count most, then tags, then the description; an exact term beats a
//! prefix. Ties break by downloads (descending), then slug, so results are stable.
//! Terms of one character match only exactly, to keep `q=a` meaningful and cheap.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::RegistryError;
use crate::store::{CatalogStore, PluginListing, StorageError};
use crate::timestamp::Timestamp;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page size.
pub const MAX_LIMIT: usize = 100;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 256;
/// Most terms in one query.
pub const MAX_QUERY_TERMS: usize = 16;

/// One search result: the spec's search result fields. The same entry is what the
/// static index's search shards hold, so search answers from shards as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// Plugin slug.
    pub slug: String,
    /// Latest version's name.
    pub name: String,
    /// Latest version's description.
    pub description: String,
    /// The latest version.
    pub version: String,
    /// Latest version's author.
    pub author: String,
    /// Latest version's tags.
    pub tags: Vec<String>,
    /// Downloads as of the last roll-up.
    pub downloads: u64,
    /// First publication.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Last change.
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
}

impl SearchHit {
    /// What search shows of a listed plugin; `None` when nothing is published.
    pub fn of_listing(listing: PluginListing) -> Option<Self> {
        let latest = listing.latest?;
        Some(Self {
            slug: listing.slug.to_string(),
            name: latest.name,
            description: latest.description,
            version: latest.version.to_string(),
            author: latest.author,
            tags: latest.tags,
            downloads: listing.downloads,
            created_at: listing.created_at,
            updated_at: listing.updated_at,
        })
    }
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchPage {
    /// How many plugins match in all (not just this page).
    pub total: usize,
    /// This page.
    pub results: Vec<SearchHit>,
}

/// A search request, already bounds-checked by the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Free text matched against name, description and tags.
    pub q: Option<String>,
    /// Exact tag filter.
    pub tag: Option<String>,
    /// Page size.
    pub limit: usize,
    /// Results to skip.
    pub offset: usize,
}

impl SearchQuery {
    /// A query from request parameters, refusing out-of-range ones: `limit` from 1
    /// to [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]), `q` at most [`MAX_QUERY_LEN`].
    pub fn from_params(
        q: Option<String>,
        tag: Option<String>,
        limit: Option<usize>,
        offset: Option<usize>,
    ) -> Result<Self, RegistryError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(RegistryError::InvalidParameter {
                name: "limit",
                detail: format!("must be from 1 to {MAX_LIMIT} (got {limit})"),
            });
        }
        if q.as_ref().is_some_and(|q| q.len() > MAX_QUERY_LEN) {
            return Err(RegistryError::InvalidParameter {
                name: "q",
                detail: format!("must be at most {MAX_QUERY_LEN} bytes"),
            });
        }
        Ok(Self {
            q: q.filter(|q| !q.trim().is_empty()),
            tag: tag
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty()),
            limit,
            offset: offset.unwrap_or(0),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Description = 0,
    Tag = 1,
    Name = 2,
    Slug = 3,
}

impl Field {
    fn weight(self, exact: bool) -> u32 {
        match (self, exact) {
            (Field::Slug, true) => 12,
            (Field::Name, true) => 10,
            (Field::Tag, true) => 8,
            (Field::Description, true) => 3,
            (Field::Slug | Field::Name, false) => 5,
            (Field::Tag, false) => 4,
            (Field::Description, false) => 1,
        }
    }
}

impl Field {
    const ALL: [Field; 4] = [Field::Description, Field::Tag, Field::Name, Field::Slug];
}

/// Bits of a posting that hold its field.
const FIELD_BITS: u32 = 2;

/// Most documents an index can number: a document number fits beside a field in
/// a posting's 32 bits. A billion plugins would need far more memory than that
/// bound allows for, so the bound is only checked in debug builds.
const MAX_DOCUMENTS: usize = 1 << (32 - FIELD_BITS);

/// A document and the best field a term appeared in there, packed in 32 bits
/// (document above, field below): postings are most of an index's memory and of
/// the bytes building one writes, sorts and merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Posting(u32);

impl Posting {
    fn new(doc: u32, field: Field) -> Self {
        debug_assert!((doc as usize) < MAX_DOCUMENTS);
        Self(doc << FIELD_BITS | field as u32)
    }

    fn doc(self) -> u32 {
        self.0 >> FIELD_BITS
    }

    fn field(self) -> Field {
        Field::ALL[(self.0 & ((1 << FIELD_BITS) - 1)) as usize]
    }

    /// The same posting in a document numbered `first_doc` later.
    fn shifted(self, first_doc: u32) -> Self {
        Self(self.0 + (first_doc << FIELD_BITS))
    }
}

/// An immutable search index over one snapshot of the catalog.
#[derive(Debug, Default)]
pub struct SearchIndex {
    /// Shared with whoever loaded them, so building an index never copies a hit.
    hits: Vec<Arc<SearchHit>>,
    /// Every term with its postings, sorted by term for prefix ranges.
    terms: TermList,
    tags: TermMap<String, Vec<u32>>,
    /// Documents, most downloaded first (ties by slug).
    by_popularity: Vec<u32>,
    /// Each document's position in `by_popularity`, so ranking compares integers.
    popularity_rank: Vec<u32>,
}

/// Hash maps keyed by short strings: foldhash, since the index's keys come from
/// published documents it holds anyway, and SipHash dominated building one.
type TermMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Splits text into lowercase alphanumeric terms.
pub fn tokenize(text: &str) -> impl Iterator<Item = String> + '_ {
    terms_of(text).map(Cow::into_owned)
}

/// [`tokenize`] without copying terms that are already lowercase (most are), for
/// building large indexes.
fn terms_of(text: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    raw_terms(text).map(|term| match term.case {
        TermCase::Lower => Cow::Borrowed(term.text),
        TermCase::AsciiUpper => Cow::Owned(term.text.to_ascii_lowercase()),
        TermCase::Unicode if term.text.chars().any(char::is_uppercase) => {
            Cow::Owned(term.text.to_lowercase())
        }
        TermCase::Unicode => Cow::Borrowed(term.text),
    })
}

/// What lowercasing a raw term may take, as its letters were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TermCase {
    /// ASCII with no capital: already lowercase.
    Lower,
    /// ASCII with a capital: lowercased letter by letter.
    AsciiUpper,
    /// Not ASCII: lowercased, if at all, by the full Unicode rules.
    Unicode,
}

/// An alphanumeric run of some text, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawTerm<'a> {
    text: &'a str,
    case: TermCase,
}

/// The alphanumeric runs of `text`, as written: the pieces
/// `text.split(|c| !c.is_alphanumeric())` gives, empty ones left out.
fn raw_terms(text: &str) -> RawTerms<'_> {
    RawTerms { text, at: 0 }
}

/// Iterator of [`raw_terms`]. It reads bytes and decodes only what is not ASCII,
/// where splitting on a char predicate decoded every character of every
/// description, and it notes each term's case on the way, so lowercasing needs no
/// second pass over the term.
struct RawTerms<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for RawTerms<'a> {
    type Item = RawTerm<'a>;

    fn next(&mut self) -> Option<RawTerm<'a>> {
        let bytes = self.text.as_bytes();
        let mut start = None;
        let mut case = TermCase::Lower;
        while let Some(&byte) = bytes.get(self.at) {
            let (alphanumeric, width, seen) = if byte.is_ascii() {
                let seen = if byte.is_ascii_uppercase() {
                    TermCase::AsciiUpper
                } else {
                    TermCase::Lower
                };
                (byte.is_ascii_alphanumeric(), 1, seen)
            } else {
                let c = self.text[self.at..].chars().next().unwrap_or_default();
                (c.is_alphanumeric(), c.len_utf8(), TermCase::Unicode)
            };
            if alphanumeric {
                start.get_or_insert(self.at);
                case = case.max(seen);
            } else if let Some(from) = start {
                let text = &self.text[from..self.at];
                self.at += width;
                return Some(RawTerm { text, case });
            }
            self.at += width;
        }
        start.map(|from| RawTerm {
            text: &self.text[from..],
            case,
        })
    }
}

/// Below this many documents per thread, an index is built on one thread.
const DOCUMENTS_PER_BUILD_THREAD: usize = 16_384;

/// Terms numbered in order of first appearance while an index is built.
struct TermTable<'a> {
    ids: TermMap<Cow<'a, str>, u32>,
    /// Where a term with capitals is lowercased to be looked up: only a term not
    /// seen before is copied out of it.
    lowered: String,
}

impl<'a> TermTable<'a> {
    fn with_capacity(terms: usize) -> Self {
        Self {
            ids: TermMap::with_capacity_and_hasher(terms, foldhash::fast::RandomState::default()),
            lowered: String::new(),
        }
    }

    /// The id of `term`, taken as it is.
    fn id(&mut self, term: &'a str) -> u32 {
        let next = index_u32(self.ids.len());
        *self.ids.entry(Cow::Borrowed(term)).or_insert(next)
    }

    /// The id of a raw term (see [`raw_terms`]) once lowercased, as [`terms_of`]
    /// lowercases it.
    fn id_lowercased(&mut self, raw: RawTerm<'a>) -> u32 {
        // ASCII lowercases letter by letter; anything else takes the full rules
        // (a final sigma depends on its neighbours).
        match raw.case {
            TermCase::Lower => return self.id(raw.text),
            TermCase::Unicode if !raw.text.chars().any(char::is_uppercase) => {
                return self.id(raw.text);
            }
            TermCase::AsciiUpper => {
                self.lowered.clear();
                self.lowered
                    .extend(raw.text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
            }
            TermCase::Unicode => self.lowered = raw.text.to_lowercase(),
        }
        if let Some(&id) = self.ids.get(self.lowered.as_str()) {
            return id;
        }
        let next = index_u32(self.ids.len());
        self.ids.insert(Cow::Owned(self.lowered.clone()), next);
        next
    }

    /// Every term, indexed by id.
    fn into_texts(self) -> Vec<Cow<'a, str>> {
        let mut texts = vec![Cow::Borrowed(""); self.ids.len()];
        for (text, id) in self.ids {
            texts[id as usize] = text;
        }
        texts
    }
}

fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Sorted terms with their postings, held flat: term `i`'s postings, sorted by
/// document, are `postings[starts[i]..starts[i + 1]]`. One allocation for all
/// postings, rather than one per term, is most of what makes a large index quick
/// to build.
#[derive(Debug, Default, PartialEq, Eq)]
struct TermList {
    texts: Vec<Box<str>>,
    starts: Vec<u32>,
    postings: Vec<Posting>,
}

impl TermList {
    fn len(&self) -> usize {
        self.texts.len()
    }

    fn postings_of(&self, term: usize) -> &[Posting] {
        &self.postings[self.starts[term] as usize..self.starts[term + 1] as usize]
    }

    /// Position of the first term not less than `term`.
    fn lower_bound(&self, term: &str) -> usize {
        self.texts.partition_point(|text| **text < *term)
    }
}

/// The index of a run of consecutive documents, numbered from zero, its terms
/// sorted.
struct PartialIndex {
    terms: TermList,
    /// Each document's slug, as a position in `terms`.
    slug_terms: Vec<u32>,
    tags: TermMap<String, Vec<u32>>,
}

impl PartialIndex {
    fn build(hits: &[Arc<SearchHit>]) -> Self {
        let mut table = TermTable::with_capacity(hits.len() * 2);
        let mut tags: TermMap<&str, Vec<u32>> = TermMap::default();
        let mut slug_ids = Vec::with_capacity(hits.len());
        // (term id, posting) in document order; laid out per term afterwards.
        let mut entries: Vec<(u32, Posting)> = Vec::with_capacity(hits.len() * 24);
        // Each term's latest entry, so a term met again in the same document
        // keeps one posting with the best field it appeared in, without sorting
        // each document's terms.
        let mut latest_entry: Vec<u32> = Vec::with_capacity(hits.len() * 2);
        let mut post = |term: u32, field: Field, doc: u32| {
            let term = term as usize;
            if term == latest_entry.len() {
                latest_entry.push(u32::MAX);
            }
            let at = latest_entry[term];
            let posting = Posting::new(doc, field);
            if let Some((_, latest)) = entries.get_mut(at as usize)
                && latest.doc() == doc
            {
                // Within one document, the larger posting has the better field.
                *latest = (*latest).max(posting);
            } else {
                latest_entry[term] = index_u32(entries.len());
                entries.push((index_u32(term), posting));
            }
        };
        for (doc, hit) in hits.iter().enumerate() {
            let doc = index_u32(doc);
            let slug = table.id(&hit.slug);
            slug_ids.push(slug);
            post(slug, Field::Slug, doc);
            for term in raw_terms(&hit.slug) {
                post(table.id_lowercased(term), Field::Slug, doc);
            }
            for term in raw_terms(&hit.name) {
                post(table.id_lowercased(term), Field::Name, doc);
            }
            for term in raw_terms(&hit.description) {
                post(table.id_lowercased(term), Field::Description, doc);
            }
            for tag in &hit.tags {
                post(table.id(tag), Field::Tag, doc);
                for term in raw_terms(tag) {
                    post(table.id_lowercased(term), Field::Tag, doc);
                }
                tags.entry(tag.as_str()).or_default().push(doc);
            }
        }
        // Sorting on a prefix held in the entry spares most comparisons a trip to
        // the text; only terms sharing their first 16 bytes compare in full.
        let mut texts = table.into_texts();
        let mut keyed: Vec<(u128, u32)> = texts
            .iter()
            .enumerate()
            .map(|(id, text)| (sort_prefix(text), index_u32(id)))
            .collect();
        keyed.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| texts[a.1 as usize].cmp(&texts[b.1 as usize]))
        });
        let order: Vec<u32> = keyed.into_iter().map(|(_, id)| id).collect();
        let mut position = vec![0u32; order.len()];
        for (at, &id) in order.iter().enumerate() {
            position[id as usize] = index_u32(at);
        }
        // A counting sort by term position: entries arrive in document order, so
        // each term's postings come out sorted by document.
        let mut starts = vec![0u32; order.len() + 1];
        for &(id, _) in &entries {
            starts[position[id as usize] as usize + 1] += 1;
        }
        for at in 1..starts.len() {
            starts[at] += starts[at - 1];
        }
        let mut next = starts.clone();
        let mut postings = vec![Posting(0); entries.len()];
        for (id, posting) in entries {
            let slot = &mut next[position[id as usize] as usize];
            postings[*slot as usize] = posting;
            *slot += 1;
        }
        // A term lowercased here is already a copy of its own to keep.
        let texts = order
            .iter()
            .map(|&id| match std::mem::take(&mut texts[id as usize]) {
                Cow::Borrowed(text) => Box::from(text),
                Cow::Owned(text) => text.into_boxed_str(),
            })
            .collect();
        Self {
            terms: TermList {
                texts,
                starts,
                postings,
            },
            slug_terms: slug_ids.iter().map(|&id| position[id as usize]).collect(),
            tags: tags
                .into_iter()
                .map(|(tag, docs)| (tag.to_owned(), docs))
                .collect(),
        }
    }
}

/// The first 16 bytes of `text`, zero-padded, as a big-endian integer: when two
/// texts' prefixes differ, they order as the texts do.
fn sort_prefix(text: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let head = &text.as_bytes()[..text.len().min(16)];
    bytes[..head.len()].copy_from_slice(head);
    u128::from_be_bytes(bytes)
}

/// `items` cut into at most `runs` consecutive runs of near-equal length, none
/// empty: how the sources of an index are shared among build threads.
pub fn consecutive_runs<T>(items: Vec<T>, runs: usize) -> Vec<Vec<T>> {
    let per_run = items.len().div_ceil(runs.max(1)).max(1);
    let mut items = items.into_iter();
    let mut cut = Vec::new();
    loop {
        let run: Vec<T> = items.by_ref().take(per_run).collect();
        if run.is_empty() {
            return cut;
        }
        cut.push(run);
    }
}

/// Threads an index is built on at most: one per core.
pub fn build_parallelism() -> usize {
    cores()
}

/// Threads worth building an index of `documents` on: one per core, as long as
/// each has enough documents to repay starting it.
fn build_threads(documents: usize) -> usize {
    cores().min(documents / DOCUMENTS_PER_BUILD_THREAD).max(1)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Merges partial indexes of consecutive document runs: each run's documents are
/// renumbered after the previous runs', their sorted term lists merge in one pass,
/// and a term's postings concatenate in run order, so they stay sorted by
/// document. Returns the terms, every document's slug position in them, and the
/// tags.
fn merge_partials(parts: Vec<PartialIndex>) -> (TermList, Vec<u32>, TermMap<String, Vec<u32>>) {
    let mut tags: TermMap<String, Vec<u32>> = TermMap::default();
    let mut runs: Vec<MergeRun> = Vec::with_capacity(parts.len());
    let mut first_doc = 0u32;
    let (mut terms_total, mut postings_total) = (0, 0);
    for part in parts {
        for (tag, mut docs) in part.tags {
            docs.iter_mut().for_each(|doc| *doc += first_doc);
            tags.entry(tag).or_default().extend(docs);
        }
        terms_total += part.terms.len();
        postings_total += part.terms.postings.len();
        runs.push(MergeRun {
            positions: Vec::with_capacity(part.terms.len()),
            texts: part.terms.texts.into_iter().peekable(),
            starts: part.terms.starts,
            postings: part.terms.postings,
            first_doc,
            slug_terms: part.slug_terms,
        });
        first_doc += index_u32(runs.last().map_or(0, |run| run.slug_terms.len()));
    }
    let mut merged = TermList {
        texts: Vec::with_capacity(terms_total),
        starts: Vec::with_capacity(terms_total + 1),
        postings: Vec::with_capacity(postings_total),
    };
    merged.starts.push(0);
    while let Some(first) = smallest_head(&mut runs) {
        let at = index_u32(merged.texts.len());
        let Some(text) = runs[first].texts.next() else {
            break;
        };
        runs[first].take_postings(at, &mut merged.postings);
        // Earlier runs lack this term: `first` is the first run that has it.
        for run in runs.iter_mut().skip(first + 1) {
            if run.texts.next_if(|term| *term == text).is_some() {
                run.take_postings(at, &mut merged.postings);
            }
        }
        merged.texts.push(text);
        merged.starts.push(index_u32(merged.postings.len()));
    }
    let slug_positions = runs
        .into_iter()
        .flat_map(|run| {
            run.slug_terms
                .into_iter()
                .map(|s| run.positions[s as usize])
                .collect::<Vec<_>>()
        })
        .collect();
    (merged, slug_positions, tags)
}

/// A run being merged.
struct MergeRun {
    /// Its terms not merged yet.
    texts: std::iter::Peekable<std::vec::IntoIter<Box<str>>>,
    starts: Vec<u32>,
    postings: Vec<Posting>,
    /// The merged position of each of its terms merged so far.
    positions: Vec<u32>,
    /// Its first document's number in the merged index.
    first_doc: u32,
    /// Its documents' slug terms.
    slug_terms: Vec<u32>,
}

impl MergeRun {
    /// Appends the postings of the term just taken from this run, renumbered, and
    /// notes the term's merged position.
    fn take_postings(&mut self, merged_at: u32, into: &mut Vec<Posting>) {
        let term = self.positions.len();
        self.positions.push(merged_at);
        let range = self.starts[term] as usize..self.starts[term + 1] as usize;
        into.extend(
            self.postings[range]
                .iter()
                .map(|p| p.shifted(self.first_doc)),
        );
    }
}

/// The first run whose next term is the smallest of all runs' next terms.
fn smallest_head(runs: &mut [MergeRun]) -> Option<usize> {
    let mut smallest: Option<(usize, &str)> = None;
    for (i, run) in runs.iter_mut().enumerate() {
        if let Some(term) = run.texts.peek()
            && smallest.is_none_or(|(_, s)| term.as_ref() < s)
        {
            smallest = Some((i, term.as_ref()));
        }
    }
    smallest.map(|(i, _)| i)
}

impl SearchIndex {
    /// Builds the index from listings; plugins with nothing published are left out.
    pub fn build(listings: impl IntoIterator<Item = PluginListing>) -> Self {
        Self::from_hits(listings.into_iter().filter_map(SearchHit::of_listing))
    }

    /// Builds the index from search hits (one per plugin), owned or shared. A large
    /// catalog is indexed on every core.
    pub fn from_hits<H: Into<Arc<SearchHit>>>(hits: impl IntoIterator<Item = H>) -> Self {
        let hits: Vec<Arc<SearchHit>> = hits.into_iter().map(Into::into).collect();
        let threads = build_threads(hits.len());
        let runs: Vec<Vec<Arc<SearchHit>>> = hits
            .chunks(hits.len().div_ceil(threads).max(1))
            .map(<[_]>::to_vec)
            .collect();
        match Self::from_sources_on(runs, Ok::<_, std::convert::Infallible>, threads) {
            Ok(index) => index,
            Err(never) => match never {},
        }
    }

    /// Builds the index from sources of hits (such as search shards still to be
    /// parsed), loading and indexing consecutive runs of them on every core at
    /// once. Documents keep the sources' order.
    pub fn from_sources<S, E, F>(sources: Vec<S>, load: F) -> Result<Self, E>
    where
        S: Send,
        E: Send,
        F: Fn(S) -> Result<Vec<Arc<SearchHit>>, E> + Sync,
    {
        Self::from_sources_on(sources, load, cores())
    }

    fn from_sources_on<S, E, F>(sources: Vec<S>, load: F, threads: usize) -> Result<Self, E>
    where
        S: Send,
        E: Send,
        F: Fn(S) -> Result<Vec<Arc<SearchHit>>, E> + Sync,
    {
        let load = &load;
        Self::from_runs(
            consecutive_runs(sources, threads)
                .into_iter()
                .map(|run| run.into_iter().map(load))
                .collect(),
        )
    }

    /// Builds the index from runs of batches of hits, each run read and indexed on
    /// a thread of its own as its batches arrive (a run may be a channel still being
    /// filled). Documents keep the runs' order, then each run's.
    pub fn from_runs<R, E>(runs: Vec<R>) -> Result<Self, E>
    where
        R: IntoIterator<Item = Result<Vec<Arc<SearchHit>>, E>> + Send,
        E: Send,
    {
        let index_run = |run: R| -> Result<(Vec<Arc<SearchHit>>, PartialIndex), E> {
            let mut hits = Vec::new();
            for batch in run {
                hits.extend(batch?);
            }
            let partial = PartialIndex::build(&hits);
            Ok((hits, partial))
        };
        let runs: Vec<(Vec<Arc<SearchHit>>, PartialIndex)> = if runs.len() <= 1 {
            runs.into_iter().map(index_run).collect::<Result<_, E>>()?
        } else {
            let index_run = &index_run;
            std::thread::scope(|scope| {
                let handles: Vec<_> = runs
                    .into_iter()
                    .map(|run| scope.spawn(move || index_run(run)))
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| {
                        handle
                            .join()
                            .unwrap_or_else(|e| std::panic::resume_unwind(e))
                    })
                    .collect::<Result<_, E>>()
            })?
        };
        let mut hits = Vec::with_capacity(runs.iter().map(|(hits, _)| hits.len()).sum());
        let mut parts = Vec::with_capacity(runs.len());
        for (run_hits, part) in runs {
            hits.extend(run_hits);
            parts.push(part);
        }
        let (terms, slug_positions, tags) = merge_partials(parts);
        // Most downloads first, then by slug: a slug's position among the sorted
        // terms orders slugs, and the document number keeps duplicates stable.
        let mut keys: Vec<(u64, u32, u32)> = hits
            .iter()
            .zip(&slug_positions)
            .enumerate()
            .map(|(doc, (hit, &slug))| (u64::MAX - hit.downloads, slug, index_u32(doc)))
            .collect();
        keys.sort_unstable();
        let order: Vec<u32> = keys.into_iter().map(|(_, _, doc)| doc).collect();
        let mut rank = vec![0u32; order.len()];
        for (position, &doc) in order.iter().enumerate() {
            rank[doc as usize] = index_u32(position);
        }
        Ok(Self {
            hits,
            terms,
            tags,
            by_popularity: order,
            popularity_rank: rank,
        })
    }

    /// Number of searchable plugins.
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    /// Whether nothing is searchable.
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    /// Every plugin's entry, in no set order.
    pub fn hits(&self) -> impl Iterator<Item = &SearchHit> {
        self.hits.iter().map(|hit| hit.as_ref())
    }

    fn hit(&self, doc: u32) -> &SearchHit {
        &self.hits[doc as usize]
    }

    /// Answers a query.
    pub fn search(&self, query: &SearchQuery) -> SearchPage {
        let terms: Vec<String> = {
            let mut t: Vec<String> = query
                .q
                .as_deref()
                .map(|q| tokenize(q).collect())
                .unwrap_or_default();
            t.sort();
            t.dedup();
            t.truncate(MAX_QUERY_TERMS);
            t
        };
        let tag_docs = query
            .tag
            .as_deref()
            .map(|tag| self.tags.get(tag).map(Vec::as_slice).unwrap_or(&[]));
        let tag_allows = |doc: u32| tag_docs.is_none_or(|docs| docs.binary_search(&doc).is_ok());

        if terms.is_empty() {
            return match tag_docs {
                Some(docs) => self.top(docs.iter().map(|&d| (0, d)).collect(), query),
                None => self.page(&self.by_popularity, self.by_popularity.len(), query),
            };
        }

        let n = self.hits.len();
        let mut score = vec![0u32; n];
        let mut matched = vec![0u8; n];
        let mut best = vec![0u32; n];
        let mut touched: Vec<u32> = Vec::new();
        for (round, term) in terms.iter().enumerate() {
            touched.clear();
            let start = self.terms.lower_bound(term);
            // One-character terms match only exactly.
            let prefix = term.chars().count() >= 2;
            let range = self.terms.texts[start..]
                .iter()
                .take_while(|k| {
                    if prefix {
                        k.starts_with(term.as_str())
                    } else {
                        ***k == **term
                    }
                })
                .enumerate();
            for (offset, key) in range {
                let exact = **key == **term;
                for p in self.terms.postings_of(start + offset) {
                    let d = p.doc() as usize;
                    // Only documents that matched every earlier term can still qualify.
                    if usize::from(matched[d]) != round {
                        continue;
                    }
                    let w = p.field().weight(exact);
                    if best[d] == 0 {
                        touched.push(p.doc());
                    }
                    best[d] = best[d].max(w);
                }
            }
            for &doc in &touched {
                let d = doc as usize;
                score[d] += best[d];
                best[d] = 0;
                matched[d] += 1;
            }
        }
        let rounds = terms.len();
        let candidates: Vec<(u32, u32)> = touched
            .iter()
            .copied()
            .filter(|&d| usize::from(matched[d as usize]) == rounds && tag_allows(d))
            .map(|d| (score[d as usize], d))
            .collect();
        self.top(candidates, query)
    }

    /// The requested page of `(score, doc)` candidates, best score first, then by
    /// popularity. Only the first `offset + limit` are ordered: selecting them is
    /// linear, so a query matching most of a large catalog stays fast.
    fn top(&self, candidates: Vec<(u32, u32)>, query: &SearchQuery) -> SearchPage {
        let total = candidates.len();
        // One integer per candidate: higher score first, then lower popularity rank.
        let mut keys: Vec<u64> = candidates
            .into_iter()
            .map(|(score, doc)| {
                (u64::from(u32::MAX - score) << 32) | u64::from(self.popularity_rank[doc as usize])
            })
            .collect();
        let wanted = query.offset.saturating_add(query.limit).min(keys.len());
        if wanted < keys.len() {
            keys.select_nth_unstable(wanted);
            keys.truncate(wanted);
        }
        keys.sort_unstable();
        let ordered: Vec<u32> = keys
            .iter()
            .map(|key| self.by_popularity[(key & u64::from(u32::MAX)) as usize])
            .collect();
        self.page(&ordered, total, query)
    }

    fn page(&self, ordered: &[u32], total: usize, query: &SearchQuery) -> SearchPage {
        SearchPage {
            total,
            results: ordered
                .iter()
                .skip(query.offset)
                .take(query.limit)
                .map(|&d| SearchHit::clone(self.hit(d)))
                .collect(),
        }
    }
}

/// Catalog listings read per page by [`index_of_catalog`].
const LISTING_PAGE: usize = 1_000;

/// Every plugin of `catalog` in one search index: the reference answer. The
/// registry itself searches the static index's shards (kept in memory by the
/// search function or the server); the tests check that those answers equal
/// this one, built straight from the source of truth.
pub async fn index_of_catalog(catalog: &dyn CatalogStore) -> Result<SearchIndex, StorageError> {
    let mut listings = Vec::new();
    let mut after = None;
    loop {
        let page = catalog.list_plugins(after.as_ref(), LISTING_PAGE).await?;
        let done = page.len() < LISTING_PAGE;
        after = page.last().map(|p| p.slug.clone());
        listings.extend(page);
        if done {
            break;
        }
    }
    Ok(SearchIndex::build(listings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(n: usize) -> Vec<SearchHit> {
        let words = [
            "git", "github", "gitlab", "slack", "weather", "deploy", "cloud",
        ];
        let at = Timestamp::parse("2024-01-01T00:00:00Z").unwrap_or_else(|e| panic!("{e}"));
        (0..n)
            .map(|i| SearchHit {
                slug: format!("p-{i}"),
                name: format!("{} tool", words[i % words.len()]),
                description: format!(
                    "{} and {}",
                    words[(i * 3) % words.len()],
                    words[(i / 2) % words.len()]
                ),
                version: "1.0.0".into(),
                author: "a".into(),
                tags: vec![words[(i * 5) % words.len()].to_owned()],
                // Few distinct counts, so ties (broken by slug) are common.
                downloads: (i % 4) as u64,
                created_at: at,
                updated_at: at,
            })
            .collect()
    }

    #[test]
    fn building_on_several_threads_gives_the_same_index() {
        let mut shared: Vec<Arc<SearchHit>> = hits(500).into_iter().map(Arc::new).collect();
        // Uppercase and repeated terms, so runs hold owned terms and share some.
        Arc::make_mut(&mut shared[3]).description = "Weather FORECAST weather".into();
        Arc::make_mut(&mut shared[400]).name = "Forecast Tool".into();
        // Sources of uneven sizes, as search shards are.
        let built_on = |threads: usize| {
            let mut sources = Vec::new();
            let mut rest = shared.as_slice();
            for size in [1, 40, 0, 97, 3, 180, 2, 177] {
                let (source, more) = rest.split_at(size);
                sources.push(source.to_vec());
                rest = more;
            }
            assert!(rest.is_empty());
            SearchIndex::from_sources_on(sources, Ok::<_, ()>, threads).unwrap()
        };
        let one = built_on(1);
        assert_eq!(one.hits, shared, "documents keep the sources' order");
        let sorted_tags = |index: &SearchIndex| {
            let mut tags: Vec<_> = index
                .tags
                .iter()
                .map(|(t, d)| (t.clone(), d.clone()))
                .collect();
            tags.sort();
            tags
        };
        for threads in [2, 3, 7] {
            let many = built_on(threads);
            assert_eq!(many.terms, one.terms, "{threads} threads");
            assert_eq!(many.by_popularity, one.by_popularity, "{threads} threads");
            assert_eq!(
                many.popularity_rank, one.popularity_rank,
                "{threads} threads"
            );
            assert_eq!(sorted_tags(&many), sorted_tags(&one), "{threads} threads");
        }
        let forecast = one.search(&SearchQuery {
            q: Some("forecast".into()),
            limit: 10,
            ..SearchQuery::default()
        });
        assert_eq!(forecast.total, 2);
    }

    #[test]
    fn a_term_in_several_fields_is_posted_once_with_the_best_of_them() {
        let hit = SearchHit {
            slug: "forecast-tool".into(),
            name: "Weather forecast".into(),
            description: "weather forecast, weather".into(),
            tags: vec!["weather".into()],
            ..hits(1).remove(0)
        };
        let index = SearchIndex::from_hits([hit]);
        let field_of = |term: &str| {
            let at = index.terms.lower_bound(term);
            assert_eq!(&*index.terms.texts[at], term);
            let postings = index.terms.postings_of(at);
            assert_eq!(postings.len(), 1, "{term} is posted once");
            postings[0].field()
        };
        assert_eq!(field_of("weather"), Field::Name);
        assert_eq!(field_of("forecast"), Field::Slug);
        assert_eq!(field_of("tool"), Field::Slug);
    }

    proptest::proptest! {
        #[test]
        fn differing_sort_prefixes_order_as_their_texts(
            a in "[a-c0-1-]{0,20}",
            b in "[a-c0-1-]{0,20}",
        ) {
            let (pa, pb) = (sort_prefix(&a), sort_prefix(&b));
            if pa != pb {
                proptest::prop_assert_eq!(pa < pb, a < b);
            }
        }

        #[test]
        fn terms_come_out_sorted(slugs in proptest::collection::vec("[a-b]{14,20}-[0-9]{1,3}", 1..60)) {
            let hits: Vec<SearchHit> = hits(slugs.len())
                .into_iter()
                .zip(&slugs)
                .map(|(hit, slug)| SearchHit { slug: slug.clone(), ..hit })
                .collect();
            let index = SearchIndex::from_hits(hits);
            let texts: Vec<&str> = index.terms.texts.iter().map(|t| &**t).collect();
            let mut sorted = texts.clone();
            sorted.sort_unstable();
            sorted.dedup();
            proptest::prop_assert_eq!(texts, sorted);
        }

        #[test]
        fn a_posting_keeps_its_document_and_field_when_shifted(
            doc in 0..MAX_DOCUMENTS as u32 / 2,
            first_doc in 0..MAX_DOCUMENTS as u32 / 2,
            field in 0..Field::ALL.len(),
        ) {
            let field = Field::ALL[field];
            let posting = Posting::new(doc, field);
            proptest::prop_assert_eq!((posting.doc(), posting.field()), (doc, field));
            let shifted = posting.shifted(first_doc);
            proptest::prop_assert_eq!((shifted.doc(), shifted.field()), (doc + first_doc, field));
        }

        #[test]
        fn raw_terms_are_the_alphanumeric_runs_with_their_case(
            text in "[a-zA-Z0-9 ,.\\-_ΣσςÉé²٣\u{2028}\u{1F600}ǅ]{0,40}",
        ) {
            let expected: Vec<&str> = text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|t| !t.is_empty())
                .collect();
            let terms: Vec<RawTerm<'_>> = raw_terms(&text).collect();
            let texts: Vec<&str> = terms.iter().map(|t| t.text).collect();
            proptest::prop_assert_eq!(texts, expected);
            for term in terms {
                let case = if !term.text.is_ascii() {
                    TermCase::Unicode
                } else if term.text.bytes().any(|b| b.is_ascii_uppercase()) {
                    TermCase::AsciiUpper
                } else {
                    TermCase::Lower
                };
                proptest::prop_assert_eq!(term.case, case, "{:?}", term.text);
            }
        }

        #[test]
        fn the_terms_indexed_are_those_tokenize_gives(
            names in proptest::collection::vec("[a-zA-Z0-9 ΣσςΟΔİıßÉé-]{0,24}", 1..8),
        ) {
            let hits: Vec<SearchHit> = hits(names.len())
                .into_iter()
                .zip(&names)
                .map(|(hit, name)| SearchHit { name: name.clone(), ..hit })
                .collect();
            let mut expected: Vec<String> = Vec::new();
            for hit in &hits {
                expected.push(hit.slug.clone());
                expected.extend(tokenize(&hit.slug));
                expected.extend(tokenize(&hit.name));
                expected.extend(tokenize(&hit.description));
                for tag in &hit.tags {
                    expected.push(tag.clone());
                    expected.extend(tokenize(tag));
                }
            }
            expected.sort_unstable();
            expected.dedup();
            let index = SearchIndex::from_hits(hits);
            let texts: Vec<&str> = index.terms.texts.iter().map(|t| &**t).collect();
            proptest::prop_assert_eq!(texts, expected);
        }
    }

    #[test]
    fn every_page_is_a_slice_of_the_full_ranking() {
        let index = SearchIndex::from_hits(hits(300));
        for (q, tag) in [
            (Some("git"), None),
            (Some("weather cloud"), None),
            (None, Some("slack")),
            (None, None),
        ] {
            let query = |offset, limit| SearchQuery {
                q: q.map(str::to_owned),
                tag: tag.map(str::to_owned),
                limit,
                offset,
            };
            let full = index.search(&query(0, usize::MAX / 2));
            assert!(full.total > 10, "{q:?} {tag:?} matches enough to page");
            assert_eq!(full.results.len(), full.total);
            for (offset, limit) in [
                (0, 1),
                (0, 20),
                (7, 5),
                (full.total - 3, 20),
                (full.total + 5, 5),
            ] {
                let page = index.search(&query(offset, limit));
                assert_eq!(page.total, full.total);
                let expected: Vec<_> = full
                    .results
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .cloned()
                    .collect();
                assert_eq!(
                    page.results, expected,
                    "{q:?} {tag:?} offset {offset} limit {limit}"
                );
            }
        }
    }
}
