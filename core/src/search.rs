//! In-memory search over the catalog's listings: an inverted index of lowercase
//! terms, matched exactly or by prefix, ranked by relevance then downloads.
//!
//! Every query term must match (AND). A term scores by where it matched: the slug
//! and name count most, then tags, then the description; an exact term beats a
//! prefix. Ties break by downloads (descending), then slug, so results are stable.
//! Terms of one character match only exactly, to keep `q=a` meaningful and cheap.

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
    by_popularity: Vec<u32>,
}

/// Splits text into lowercase alphanumeric terms.
pub fn tokenize(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

impl SearchIndex {
    /// Builds the index from listings; plugins with nothing published are left out.
    pub fn build(listings: impl IntoIterator<Item = PluginListing>) -> Self {
        Self::from_hits(listings.into_iter().filter_map(SearchHit::of_listing))
    }

    /// Builds the index from search hits (one per plugin).
    pub fn from_hits(hits: impl IntoIterator<Item = SearchHit>) -> Self {
        let mut index = Self::default();
        let mut per_term: HashMap<String, HashMap<u32, Field>> = HashMap::new();
        for hit in hits {
            let doc = u32::try_from(index.hits.len()).unwrap_or(u32::MAX);
            let mut add = |term: String, field: Field| {
                let slot = per_term
                    .entry(term)
                    .or_default()
                    .entry(doc)
                    .or_insert(field);
                *slot = (*slot).max(field);
            };
            add(hit.slug.clone(), Field::Slug);
            tokenize(&hit.slug).for_each(|t| add(t, Field::Slug));
            tokenize(&hit.name).for_each(|t| add(t, Field::Name));
            tokenize(&hit.description).for_each(|t| add(t, Field::Description));
            for tag in &hit.tags {
                add(tag.clone(), Field::Tag);
                tokenize(tag).for_each(|t| add(t, Field::Tag));
                index.tags.entry(tag.clone()).or_default().push(doc);
            }
            index.hits.push(hit);
        }
        index.terms = per_term
            .into_iter()
            .map(|(term, docs)| {
                let mut postings: Vec<Posting> = docs
                    .into_iter()
                    .map(|(doc, field)| Posting { doc, field })
                    .collect();
                postings.sort_unstable_by_key(|p| p.doc);
                (term, postings)
            })
            .collect();
        let mut order: Vec<u32> = (0..index.hits.len())
            .filter_map(|d| u32::try_from(d).ok())
            .collect();
        order.sort_by(|&a, &b| index.popularity_order(a, b));
        index.by_popularity = order;
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
            let matching: Vec<u32> = match tag_docs {
                Some(docs) => {
                    let mut d = docs.to_vec();
                    d.sort_by(|&a, &b| self.popularity_order(a, b));
                    d
                }
                None => self.by_popularity.clone(),
            };
            return self.page(&matching, query);
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
        let mut candidates: Vec<u32> = touched
            .iter()
            .copied()
            .filter(|&d| usize::from(matched[d as usize]) == rounds && tag_allows(d))
            .collect();
        candidates.sort_by(|&a, &b| {
            score[b as usize]
                .cmp(&score[a as usize])
                .then_with(|| self.popularity_order(a, b))
        });
        self.page(&candidates, query)
    }

    fn page(&self, ordered: &[u32], query: &SearchQuery) -> SearchPage {
        SearchPage {
            total: ordered.len(),
            results: ordered
                .iter()
                .skip(query.offset)
                .take(query.limit)
                .map(|&d| self.hit(d).clone())
                .collect(),
        }
    }
}
