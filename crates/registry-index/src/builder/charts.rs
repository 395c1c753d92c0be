//! Each plugin's downloads chart, drawn from its daily counters when the download
//! roll-up changes its total.
//!
//! Charts are outside the signed chain and the rebuild invariant, like the
//! timestamp: a chart's window slides with the clock, so a rebuild could never
//! reproduce it byte for byte, and signing it would rewrite a bin on every
//! roll-up. A chart is only ever the picture of its own counters; the page shows
//! it with `<img>` and the JSON stays the record.

use registry_core::slug::Slug;
use registry_pages::{SVG_CONTENT_TYPE, chart_first_day, downloads_chart};

use crate::path::IndexPath;
use crate::store::{WriteCondition, object_at, put_path};

use super::{IndexBuilder, IndexError};

impl IndexBuilder {
    /// Today (UTC), by the builder's clock.
    pub fn today(&self) -> time::Date {
        self.clock.now().day()
    }

    /// Draws the downloads chart of each of `slugs` over the 90 days ending
    /// today; returns how many it wrote. A registry without pages draws none.
    pub async fn draw_download_charts(&self, slugs: &[Slug]) -> Result<usize, IndexError> {
        if self.site.is_none() {
            return Ok(0);
        }
        let today = self.clock.now().day();
        for slug in slugs {
            let days = self
                .catalog
                .daily_downloads(slug, chart_first_day(today))
                .await?;
            let path = IndexPath::DownloadsChart(slug.clone());
            let object = object_at(&path, downloads_chart(&days, today), SVG_CONTENT_TYPE, 200);
            put_path(self.index.as_ref(), &path, &object, &WriteCondition::Always).await?;
        }
        Ok(slugs.len())
    }
}
