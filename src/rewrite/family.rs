//! Which request schema a model id speaks, read from the id alone.

use std::fmt;

/// A model family: models that share one InvokeModel body schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Anthropic Claude, Messages API (`anthropic.`).
    Claude,
    /// Amazon Nova understanding models (`amazon.nova-`).
    Nova,
    /// Amazon Titan Text (`amazon.titan-text`, `amazon.titan-tg1`).
    TitanText,
    /// Meta Llama (`meta.llama`).
    Llama,
    /// Mistral AI, text-completion schema (`mistral.`).
    Mistral,
    /// Cohere Command R and R+ (`cohere.command-r`).
    CohereCommandR,
    /// AI21 Labs Jamba (`ai21.jamba`).
    Jamba,
}

impl Family {
    /// Every family, for tables and metric pre-registration.
    pub const ALL: [Family; 7] = [
        Family::Claude,
        Family::Nova,
        Family::TitanText,
        Family::Llama,
        Family::Mistral,
        Family::CohereCommandR,
        Family::Jamba,
    ];

    /// The family's name as written in `model_limits.toml` and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Claude => "claude",
            Family::Nova => "nova",
            Family::TitanText => "titan_text",
            Family::Llama => "llama",
            Family::Mistral => "mistral",
            Family::CohereCommandR => "cohere_command_r",
            Family::Jamba => "jamba",
        }
    }

    /// Parses the name used by [`Family::as_str`].
    pub fn from_name(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Vendor prefixes a base model id starts with; used to recognise a
/// geography prefix in front of one (`us.`, `eu.`, `apac.`, `global.`, ...).
const VENDORS: [&str; 6] = [
    "anthropic.",
    "amazon.",
    "meta.",
    "mistral.",
    "cohere.",
    "ai21.",
];

/// Nova models that generate images, video or speech, or embed: none of them
/// takes the Nova understanding (messages) schema.
const NOVA_NOT_TEXT: [&str; 4] = [
    "amazon.nova-canvas",
    "amazon.nova-reel",
    "amazon.nova-sonic",
    "amazon.nova-2-multimodal-embeddings",
];

/// The foundation-model id inside a model id: strips an ARN down to its
/// resource name and drops a cross-region geography prefix.
///
/// `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0`
/// and `us.anthropic.claude-3-haiku-20240307-v1:0` both give
/// `anthropic.claude-3-haiku-20240307-v1:0`. The id must already be
/// percent-decoded. Ids that name no model (application inference profiles,
/// provisioned throughput) come back as their opaque resource name.
pub fn base_model_id(model_id: &str) -> &str {
    let resource = match model_id.strip_prefix("arn:") {
        // The resource is `type/name`; the name itself never holds a slash.
        Some(arn) => arn.rsplit('/').next().unwrap_or(arn),
        None => model_id,
    };
    strip_geography(resource)
}

fn strip_geography(id: &str) -> &str {
    if VENDORS.iter().any(|v| id.starts_with(v)) {
        return id;
    }
    match id.split_once('.') {
        Some((geo, rest)) if is_geography(geo) && VENDORS.iter().any(|v| rest.starts_with(v)) => {
            rest
        }
        _ => id,
    }
}

/// Geography prefixes are short lowercase words (`us`, `apac`, `us-gov`); a
/// vendor check on what follows keeps this from eating a real vendor name.
fn is_geography(word: &str) -> bool {
    !word.is_empty() && word.len() <= 8 && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

/// The family of a (percent-decoded) model id, or `None` when the id names a
/// model whose schema the rewriter does not know.
pub fn family_of(model_id: &str) -> Option<Family> {
    let id = base_model_id(model_id);
    if id.starts_with("anthropic.") {
        Some(Family::Claude)
    } else if id.starts_with("amazon.nova-") {
        (!NOVA_NOT_TEXT.iter().any(|p| id.starts_with(p))).then_some(Family::Nova)
    } else if id.starts_with("amazon.titan-text") || id.starts_with("amazon.titan-tg1") {
        Some(Family::TitanText)
    } else if id.starts_with("meta.llama") {
        Some(Family::Llama)
    } else if id.starts_with("mistral.") {
        Some(Family::Mistral)
    } else if id.starts_with("cohere.command-r") {
        Some(Family::CohereCommandR)
    } else if id.starts_with("ai21.jamba") {
        Some(Family::Jamba)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_map_to_families() {
        let cases = [
            (
                "anthropic.claude-3-haiku-20240307-v1:0",
                Some(Family::Claude),
            ),
            ("amazon.nova-lite-v1:0", Some(Family::Nova)),
            ("amazon.nova-canvas-v1:0", None),
            ("amazon.titan-text-express-v1", Some(Family::TitanText)),
            ("amazon.titan-embed-text-v2:0", None),
            ("meta.llama3-1-70b-instruct-v1:0", Some(Family::Llama)),
            ("mistral.mistral-7b-instruct-v0:2", Some(Family::Mistral)),
            ("cohere.command-r-plus-v1:0", Some(Family::CohereCommandR)),
            ("cohere.command-text-v14", None),
            ("ai21.jamba-1-5-large-v1:0", Some(Family::Jamba)),
            ("deepseek.r1-v1:0", None),
        ];
        for (id, want) in cases {
            assert_eq!(family_of(id), want, "{id}");
        }
    }

    #[test]
    fn geography_prefixes_and_arns_are_seen_through() {
        let ids = [
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "apac.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
        ];
        for id in ids {
            assert_eq!(
                base_model_id(id),
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
                "{id}"
            );
            assert_eq!(family_of(id), Some(Family::Claude), "{id}");
        }
        assert_eq!(family_of("us.amazon.nova-pro-v1:0"), Some(Family::Nova));
        assert_eq!(
            family_of("us-gov.meta.llama3-8b-instruct-v1:0"),
            Some(Family::Llama)
        );
    }

    #[test]
    fn opaque_ids_have_no_family() {
        assert_eq!(
            family_of(
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
            ),
            None
        );
        assert_eq!(family_of(""), None);
        assert_eq!(family_of("us."), None);
        assert_eq!(family_of("anthropic"), None);
    }

    #[test]
    fn family_names_round_trip() {
        for f in Family::ALL {
            assert_eq!(Family::from_name(f.as_str()), Some(f));
        }
    }
}
