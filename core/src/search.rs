//! In-memory search over the catalog's listings: an inverted index of lowercase
//! terms, matched exactly or by prefix, ranked by relevance then downloads.
//!
//! Every query term must match (AND). A term scores by where it matched: the slug
//! and name count most, then tags, then the description; an exact term beats a
//! prefix. Ties break by downloads (descending), then slug, so results are stable.
//! Terms of one character match only exactly, to keep `q=a` meaningful and cheap.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::error::RegistryError;
use crate::store::PluginListing;
use crate::timestamp::Timestamp;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page size.
pub const MAX_LIMIT: usize = 100;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 256;
/// Most terms in one query.
pub const MAX_QUERY_TERMS: usize = 16;

/// One search result: the spec's search result fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Copy)]
struct Posting {
    doc: u32,
    field: Field,
}

/// An immutable search index over one snapshot of the catalog.
#[derive(Debug, Default)]
pub struct SearchIndex {
    hits: Vec<SearchHit>,
    terms: BTreeMap<String, Vec<Posting>>,
    tags: HashMap<String, Vec<u32>>,
    /// Documents, most downloaded first (ties by slug).
    by_popularity: Vec<u32>,
    /// Each document's position in `by_popularity`, so ranking compares integers.
    popularity_rank: Vec<u32>,
}

/// Splits text into lowercase alphanumeric terms.
pub fn tokenize(text: &str) -> impl Iterator<Item = String> + '_ {
    terms_of(text).map(Cow::into_owned)
}

/// [`tokenize`] without copying terms that are already lowercase (most are), for
/// building large indexes.
fn terms_of(text: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| {
            if t.chars().any(char::is_uppercase) {
                Cow::Owned(t.to_lowercase())
            } else {
                Cow::Borrowed(t)
            }
        })
}

impl SearchIndex {
    /// Builds the index from listings; plugins with nothing published are left out.
    pub fn build(listings: impl IntoIterator<Item = PluginListing>) -> Self {
        Self::from_hits(listings.into_iter().filter_map(SearchHit::of_listing))
    }

    /// Builds the index from search hits (one per plugin).
    pub fn from_hits(hits: impl IntoIterator<Item = SearchHit>) -> Self {
        let mut index = Self::default();
        let mut terms: HashMap<String, Vec<Posting>> = HashMap::new();
        // One document's terms, each once with its best field: documents arrive in
        // order, so every posting list comes out sorted by document already.
        for hit in hits {
            let doc = u32::try_from(index.hits.len()).unwrap_or(u32::MAX);
            let mut own: Vec<(Cow<'_, str>, Field)> = Vec::with_capacity(32);
            own.push((Cow::Borrowed(hit.slug.as_str()), Field::Slug));
            own.extend(terms_of(&hit.slug).map(|t| (t, Field::Slug)));
            own.extend(terms_of(&hit.name).map(|t| (t, Field::Name)));
            own.extend(terms_of(&hit.description).map(|t| (t, Field::Description)));
            for tag in &hit.tags {
                own.push((Cow::Borrowed(tag.as_str()), Field::Tag));
                own.extend(terms_of(tag).map(|t| (t, Field::Tag)));
                match index.tags.get_mut(tag.as_str()) {
                    Some(docs) => docs.push(doc),
                    None => {
                        index.tags.insert(tag.clone(), vec![doc]);
                    }
                }
            }
            own.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            own.dedup_by(|next, kept| next.0 == kept.0);
            for (term, field) in own {
                let posting = Posting { doc, field };
                match terms.get_mut(term.as_ref()) {
                    Some(list) => list.push(posting),
                    None => {
                        terms.insert(term.into_owned(), vec![posting]);
                    }
                }
            }
            index.hits.push(hit);
        }
        index.terms = terms.into_iter().collect();
        let mut order: Vec<u32> = (0..index.hits.len())
            .filter_map(|d| u32::try_from(d).ok())
            .collect();
        order.sort_by(|&a, &b| index.popularity_order(a, b));
        let mut rank = vec![0u32; order.len()];
        for (position, &doc) in order.iter().enumerate() {
            rank[doc as usize] = u32::try_from(position).unwrap_or(u32::MAX);
        }
        index.by_popularity = order;
        index.popularity_rank = rank;
        index
    }

    /// Number of searchable plugins.
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    /// Whether nothing is searchable.
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    fn hit(&self, doc: u32) -> &SearchHit {
        &self.hits[doc as usize]
    }

    fn popularity_order(&self, a: u32, b: u32) -> std::cmp::Ordering {
        let (ha, hb) = (self.hit(a), self.hit(b));
        hb.downloads
            .cmp(&ha.downloads)
            .then_with(|| ha.slug.cmp(&hb.slug))
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
            let range: Box<dyn Iterator<Item = (&String, &Vec<Posting>)>> =
                if term.chars().count() < 2 {
                    Box::new(self.terms.get_key_value(term.as_str()).into_iter())
                } else {
                    Box::new(
                        self.terms
                            .range(term.clone()..)
                            .take_while(|(k, _)| k.starts_with(term.as_str())),
                    )
                };
            for (key, postings) in range {
                let exact = key == term;
                for p in postings {
                    let d = p.doc as usize;
                    // Only documents that matched every earlier term can still qualify.
                    if usize::from(matched[d]) != round {
                        continue;
                    }
                    let w = p.field.weight(exact);
                    if best[d] == 0 {
                        touched.push(p.doc);
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
                .map(|&d| self.hit(d).clone())
                .collect(),
        }
    }
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
