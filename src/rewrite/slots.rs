//! Where each family keeps each inference parameter.
//!
//! A parameter with no slot is one the family (or the Converse API for that
//! family) does not take: the rewriter drops it instead of sending a key
//! Bedrock would reject as extraneous.

use super::error::RewriteError;
use super::family::Family;
use super::json::RawObject;
use super::plan::Api;
use super::report::Param;

/// A key path from the top of the body, with its dotted name for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub path: &'static [&'static str],
    pub dotted: &'static str,
}

macro_rules! slot {
    ($k:literal) => {
        Some(Slot {
            path: &[$k],
            dotted: $k,
        })
    };
    ($a:literal, $k:literal) => {
        Some(Slot {
            path: &[$a, $k],
            dotted: concat!($a, ".", $k),
        })
    };
    ($a:literal, $b:literal, $k:literal) => {
        Some(Slot {
            path: &[$a, $b, $k],
            dotted: concat!($a, ".", $b, ".", $k),
        })
    };
}

/// The slot of every parameter for one family and API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotTable {
    temperature: Option<Slot>,
    top_k: Option<Slot>,
    top_p: Option<Slot>,
    max_tokens: Option<Slot>,
    stop_sequences: Option<Slot>,
    frequency_penalty: Option<Slot>,
}

impl SlotTable {
    pub fn get(&self, param: Param) -> Option<Slot> {
        match param {
            Param::Temperature => self.temperature,
            Param::TopK => self.top_k,
            Param::TopP => self.top_p,
            Param::MaxTokens => self.max_tokens,
            Param::StopSequences => self.stop_sequences,
            Param::FrequencyPenalty => self.frequency_penalty,
        }
    }
}

const CLAUDE: SlotTable = SlotTable {
    temperature: slot!("temperature"),
    top_k: slot!("top_k"),
    top_p: slot!("top_p"),
    max_tokens: slot!("max_tokens"),
    stop_sequences: slot!("stop_sequences"),
    frequency_penalty: None,
};

const NOVA_CAMEL: SlotTable = SlotTable {
    temperature: slot!("inferenceConfig", "temperature"),
    top_k: slot!("inferenceConfig", "topK"),
    top_p: slot!("inferenceConfig", "topP"),
    max_tokens: slot!("inferenceConfig", "maxTokens"),
    stop_sequences: slot!("inferenceConfig", "stopSequences"),
    frequency_penalty: None,
};

const NOVA_SNAKE: SlotTable = SlotTable {
    top_k: slot!("inferenceConfig", "top_k"),
    top_p: slot!("inferenceConfig", "top_p"),
    max_tokens: slot!("inferenceConfig", "max_new_tokens"),
    ..NOVA_CAMEL
};

const TITAN: SlotTable = SlotTable {
    temperature: slot!("textGenerationConfig", "temperature"),
    top_k: None,
    top_p: slot!("textGenerationConfig", "topP"),
    max_tokens: slot!("textGenerationConfig", "maxTokenCount"),
    stop_sequences: slot!("textGenerationConfig", "stopSequences"),
    frequency_penalty: None,
};

const LLAMA: SlotTable = SlotTable {
    temperature: slot!("temperature"),
    top_k: None,
    top_p: slot!("top_p"),
    max_tokens: slot!("max_gen_len"),
    stop_sequences: None,
    frequency_penalty: None,
};

const MISTRAL: SlotTable = SlotTable {
    temperature: slot!("temperature"),
    top_k: slot!("top_k"),
    top_p: slot!("top_p"),
    max_tokens: slot!("max_tokens"),
    stop_sequences: slot!("stop"),
    frequency_penalty: None,
};

const COHERE: SlotTable = SlotTable {
    temperature: slot!("temperature"),
    top_k: slot!("k"),
    top_p: slot!("p"),
    max_tokens: slot!("max_tokens"),
    stop_sequences: slot!("stop_sequences"),
    frequency_penalty: slot!("frequency_penalty"),
};

const JAMBA: SlotTable = SlotTable {
    temperature: slot!("temperature"),
    top_k: None,
    top_p: slot!("top_p"),
    max_tokens: slot!("max_tokens"),
    stop_sequences: slot!("stop"),
    // Jamba's penalty parameters are not confirmed for Bedrock: never sent.
    frequency_penalty: None,
};

const NO_SLOTS: SlotTable = SlotTable {
    temperature: None,
    top_k: None,
    top_p: None,
    max_tokens: None,
    stop_sequences: None,
    frequency_penalty: None,
};

/// Converse base fields; top_k and penalties per family below.
const CONVERSE: SlotTable = SlotTable {
    temperature: slot!("inferenceConfig", "temperature"),
    top_k: None,
    top_p: slot!("inferenceConfig", "topP"),
    max_tokens: slot!("inferenceConfig", "maxTokens"),
    stop_sequences: slot!("inferenceConfig", "stopSequences"),
    frequency_penalty: None,
};

/// The schema's name in errors and docs.
pub(crate) fn schema_name(family: Option<Family>, api: Api) -> &'static str {
    match (api, family) {
        (Api::Converse, _) => "converse",
        (Api::InvokeModel, Some(Family::Claude)) => "claude messages",
        (Api::InvokeModel, Some(Family::Nova)) => "nova",
        (Api::InvokeModel, Some(Family::TitanText)) => "titan text",
        (Api::InvokeModel, Some(Family::Llama)) => "llama",
        (Api::InvokeModel, Some(Family::Mistral)) => "mistral text completion",
        (Api::InvokeModel, Some(Family::CohereCommandR)) => "cohere command r",
        (Api::InvokeModel, Some(Family::Jamba)) => "jamba",
        (Api::InvokeModel, None) => "unknown",
    }
}

/// The slots for a request; Nova's depend on the spelling the body uses.
pub(crate) fn table(
    family: Option<Family>,
    api: Api,
    doc: &RawObject<'_>,
    schema: &'static str,
) -> Result<SlotTable, RewriteError> {
    Ok(match (api, family) {
        (Api::Converse, Some(Family::Claude)) => SlotTable {
            top_k: slot!("additionalModelRequestFields", "top_k"),
            ..CONVERSE
        },
        (Api::Converse, Some(Family::Nova)) => SlotTable {
            top_k: slot!("additionalModelRequestFields", "inferenceConfig", "topK"),
            ..CONVERSE
        },
        (Api::Converse, Some(Family::CohereCommandR)) => SlotTable {
            top_k: slot!("additionalModelRequestFields", "k"),
            frequency_penalty: slot!("additionalModelRequestFields", "frequency_penalty"),
            ..CONVERSE
        },
        // Mistral's text-completion models take top_k natively, but the
        // chat models under the same prefix do not, and Converse cannot tell
        // them apart from the id alone: top_k is dropped for Mistral here.
        (Api::Converse, _) => CONVERSE,
        (Api::InvokeModel, Some(Family::Nova)) => nova_table(doc, schema)?,
        (Api::InvokeModel, Some(Family::Claude)) => CLAUDE,
        (Api::InvokeModel, Some(Family::TitanText)) => TITAN,
        (Api::InvokeModel, Some(Family::Llama)) => LLAMA,
        (Api::InvokeModel, Some(Family::Mistral)) => MISTRAL,
        (Api::InvokeModel, Some(Family::CohereCommandR)) => COHERE,
        (Api::InvokeModel, Some(Family::Jamba)) => JAMBA,
        // `rewrite` refuses InvokeModel for unknown families before this.
        (Api::InvokeModel, None) => NO_SLOTS,
    })
}

/// Nova accepts `maxTokens/topP/topK` and `max_new_tokens/top_p/top_k`.
/// Each parameter keeps the spelling the application used for it; a new one
/// follows the body's other keys, and camelCase (the documented one) when
/// nothing tells.
fn nova_table(doc: &RawObject<'_>, schema: &'static str) -> Result<SlotTable, RewriteError> {
    let Some(config_text) = doc.get("inferenceConfig") else {
        return Ok(NOVA_CAMEL);
    };
    let config = RawObject::parse_nested(config_text, schema, "inferenceConfig")?;
    let snake_body = ["max_new_tokens", "top_p", "top_k"]
        .iter()
        .any(|k| config.contains(k));
    let pick = |camel: Option<Slot>, snake: Option<Slot>| {
        let has = |s: Option<Slot>| {
            s.and_then(|s| s.path.last())
                .is_some_and(|k| config.contains(k))
        };
        if has(camel) {
            camel
        } else if has(snake) || snake_body {
            snake
        } else {
            camel
        }
    };
    Ok(SlotTable {
        top_k: pick(NOVA_CAMEL.top_k, NOVA_SNAKE.top_k),
        top_p: pick(NOVA_CAMEL.top_p, NOVA_SNAKE.top_p),
        max_tokens: pick(NOVA_CAMEL.max_tokens, NOVA_SNAKE.max_tokens),
        ..NOVA_CAMEL
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nova(body: &'static str) -> SlotTable {
        let doc = RawObject::parse_body(body.as_bytes(), "nova").expect("parses");
        table(Some(Family::Nova), Api::InvokeModel, &doc, "nova").expect("table")
    }

    #[test]
    fn nova_keeps_the_spelling_the_app_used() {
        assert_eq!(
            nova(r#"{"messages":[]}"#)
                .get(Param::TopP)
                .map(|s| s.dotted),
            Some("inferenceConfig.topP")
        );
        let snake = nova(r#"{"inferenceConfig":{"max_new_tokens":10}}"#);
        assert_eq!(
            snake.get(Param::TopP).map(|s| s.dotted),
            Some("inferenceConfig.top_p")
        );
        assert_eq!(
            snake.get(Param::MaxTokens).map(|s| s.dotted),
            Some("inferenceConfig.max_new_tokens")
        );
        let mixed = nova(r#"{"inferenceConfig":{"maxTokens":10,"top_p":0.5}}"#);
        assert_eq!(
            mixed.get(Param::MaxTokens).map(|s| s.dotted),
            Some("inferenceConfig.maxTokens")
        );
        assert_eq!(
            mixed.get(Param::TopP).map(|s| s.dotted),
            Some("inferenceConfig.top_p")
        );
    }

    #[test]
    fn converse_routes_top_k_by_family() {
        let doc = RawObject::default();
        let get = |f: Option<Family>| {
            table(f, Api::Converse, &doc, "converse")
                .expect("table")
                .get(Param::TopK)
                .map(|s| s.dotted)
        };
        assert_eq!(
            get(Some(Family::Claude)),
            Some("additionalModelRequestFields.top_k")
        );
        assert_eq!(
            get(Some(Family::Nova)),
            Some("additionalModelRequestFields.inferenceConfig.topK")
        );
        assert_eq!(get(Some(Family::Llama)), None);
        assert_eq!(get(None), None);
    }
}
