//! The one HTTP client every provider request goes through.

use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};

/// How long one request to a provider may take.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read from a provider (a discovery document or key set is
/// a few kilobytes).
pub const MAX_PROVIDER_ANSWER: usize = 256 * 1024;

/// Why a request to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderHttpError {
    /// The request could not be made or its answer read.
    #[error("request to the provider failed: {0}")]
    Request(#[from] reqwest::Error),
    /// The answer was larger than [`MAX_PROVIDER_ANSWER`].
    #[error("the provider's answer is larger than {MAX_PROVIDER_ANSWER} bytes")]
    TooLarge,
    /// The answer could not be turned into an HTTP response.
    #[error("the provider's answer is malformed: {0}")]
    Malformed(#[from] openidconnect::http::Error),
}

/// A client for provider requests: no redirects, no proxy, bounded waits.
#[derive(Debug, Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
}

impl ProviderHttp {
    /// A client whose every request ends within [`PROVIDER_TIMEOUT`].
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            // Following a redirect would let a provider's answer send the registry
            // to any address (SSRF); a provider that redirects is misconfigured.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .connect_timeout(PROVIDER_TIMEOUT)
            .user_agent(concat!("openworkflow-registry/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }

    /// Sends an `openidconnect` request and reads at most
    /// [`MAX_PROVIDER_ANSWER`] bytes of the answer.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderHttpError> {
        let request = reqwest::Request::try_from(request)?;
        let mut answer = self.client.execute(request).await?;
        let mut builder = openidconnect::http::Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            builder = builder.header(name, value);
        }
        Ok(builder.body(bounded_body(&mut answer).await?)?)
    }

    /// [`Self::send`] as `openidconnect` takes an HTTP client: a function whose
    /// futures own what they use (so they are `Send` for any lifetime).
    pub fn sender(
        &self,
    ) -> impl Fn(
        HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<HttpResponse, ProviderHttpError>> + Send>,
    > + Send
    + Sync
    + use<> {
        let http = self.clone();
        move |request| {
            let http = http.clone();
            Box::pin(async move { http.send(request).await })
        }
    }

    /// Sends a request made without `openidconnect` and reads at most
    /// [`MAX_PROVIDER_ANSWER`] bytes of the answer.
    pub(crate) async fn send_plain(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), ProviderHttpError> {
        let mut answer = request.send().await?;
        Ok((answer.status(), bounded_body(&mut answer).await?))
    }

    /// The underlying client, to build requests for [`Self::send_plain`].
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

async fn bounded_body(answer: &mut reqwest::Response) -> Result<Vec<u8>, ProviderHttpError> {
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await? {
        if body.len() + chunk.len() > MAX_PROVIDER_ANSWER {
            return Err(ProviderHttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
