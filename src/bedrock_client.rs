//! The sidecar's own Bedrock calls (the intent classifier's model, later
//! an LLM judge): a Converse request signed and sent on the same
//! credentials, client and upstream as the proxied traffic.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde_json::{Value, json};

use crate::classify::ModelCall;
use crate::config::UpstreamTarget;
use crate::forward::Forwarder;
use crate::proxy::target::Target;
use crate::sign::{CredentialCache, sign_request};

/// Longest answer read back; the sidecar's own calls ask for a few words.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Everything needed to call Bedrock on the sidecar's own account.
#[derive(Clone)]
pub struct BedrockClient {
    pub forwarder: Forwarder,
    pub credentials: Arc<CredentialCache>,
    pub upstream: UpstreamTarget,
}

impl BedrockClient {
    /// Sends one user message to `model` through Converse and returns the
    /// answer's text.
    pub async fn converse(
        &self,
        model: &str,
        prompt: &str,
        max_tokens: u32,
    ) -> Result<String, String> {
        let target = Target::choose(&self.upstream, None).map_err(|e| e.to_string())?;
        let body = json!({
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0},
        });
        let escaped = model.replace(':', "%3A").replace('/', "%2F");
        let uri = format!(
            "{}://{}/model/{escaped}/converse",
            target.scheme, target.authority
        );
        let mut request = http::Request::post(uri)
            .header(http::header::HOST, target.host())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(body.to_string()))
            .map_err(|e| e.to_string())?;
        let length = http::HeaderValue::from(request.body().len());
        request
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, length);
        let credentials = self.credentials.get().await.map_err(|e| e.to_string())?;
        sign_request(&mut request, &credentials, &target.region).map_err(|e| e.to_string())?;
        let response = self
            .forwarder
            .send(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("{model} answered {status}"));
        }
        answer_text(&bytes).ok_or_else(|| format!("{model} answered no text"))
    }

    /// The classifier's hook: a call to `model` for each prompt.
    pub fn model_call(self, model: String) -> ModelCall {
        Arc::new(move |prompt: String| {
            let client = self.clone();
            let model = model.clone();
            Box::pin(async move { client.converse(&model, &prompt, 16).await })
        })
    }
}

fn answer_text(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let blocks = json.pointer("/output/message/content")?.as_array()?;
    let text: String = blocks
        .iter()
        .filter_map(|b| b.get("text")?.as_str())
        .collect();
    (!text.is_empty()).then_some(text)
}
