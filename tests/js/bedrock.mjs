// The real JavaScript AWS SDK (which opens cleartext HTTP/2 to an http://
// endpoint) calling the four model operations through the sidecar. The
// endpoint comes from AWS_ENDPOINT_URL_BEDROCK_RUNTIME, as for any app.
// MOCK_CONTROL_URL lets it open the mock's stream gate once the first
// event has arrived. Prints one JSON line of what it saw; exits 1 on error.
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";

const model = process.env.MODEL_ID ?? "anthropic.claude-3-haiku-20240307-v1:0";
const control = process.env.MOCK_CONTROL_URL;
const client = new BedrockRuntimeClient({
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "app-secret-not-the-sidecars" },
  maxAttempts: 1,
});
const body = JSON.stringify({
  anthropic_version: "bedrock-2023-05-31",
  max_tokens: 32,
  messages: [{ role: "user", content: "Is volume 12 of Frieren in stock?" }],
});
const messages = [{ role: "user", content: [{ text: "Recommend a seinen manga" }] }];

async function release() {
  if (control) await fetch(`${control}/_mock/release`, { method: "POST", body: "{}" });
}

async function drain(events) {
  let count = 0;
  for await (const event of events) {
    count += 1;
    if (count === 1) await release();
  }
  return count;
}

const seen = {};
const invoked = await client.send(new InvokeModelCommand({ modelId: model, body, contentType: "application/json" }));
seen.invoke = JSON.parse(new TextDecoder().decode(invoked.body)).usage.output_tokens;
const conversed = await client.send(new ConverseCommand({ modelId: model, messages }));
seen.converse = conversed.usage.outputTokens;
const streamed = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: model, body }));
seen.invoke_stream_events = await drain(streamed.body);
const conversedStream = await client.send(new ConverseStreamCommand({ modelId: model, messages }));
seen.converse_stream_events = await drain(conversedStream.stream);
client.destroy();
console.log(JSON.stringify(seen));
