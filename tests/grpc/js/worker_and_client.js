// A second-language client for tests/grpc/test_js_sdk.py: @dapr/durabletask-js 1.0.0
// (its own protobuf code and replay engine) runs a worker and a client against
// `wayline serve`.
//
//   node worker_and_client.js HOST:PORT [INSTANCE_ID]
//
// Registers the activity "js_greet" and the workflow "js_greet_wf" (activity, then
// an external event "approve", then a 1 s durable timer; returns greeting and
// approval), schedules one instance, waits until it is RUNNING and waiting for the
// event, raises the event, waits for completion and prints ONE JSON line on
// stdout. The SDK logs with console.log, so all logging goes to stderr.
// The package is resolved through NODE_PATH (the test's npm cache directory).
"use strict";

const { TaskHubGrpcClient, TaskHubGrpcWorker } = require("@dapr/durabletask-js");
// Not re-exported by the package index; pinned to 1.0.0, so the deep path is stable.
const { OrchestrationStatus } = require("@dapr/durabletask-js/orchestration/enum/orchestration-status.enum");

const HARD_TIMEOUT_MS = 60000; // the whole script, whatever hangs
const WAIT_S = 30; // each client-side wait of the SDK

console.log = console.info = console.error; // keep stdout for the result line

const hardTimeout = setTimeout(() => {
  console.error(`worker_and_client.js: hard timeout after ${HARD_TIMEOUT_MS} ms`);
  process.exit(3);
}, HARD_TIMEOUT_MS);
hardTimeout.unref();

const address = process.argv[2];
const instanceId = process.argv[3] || `js-${Date.now()}`;
if (!address) {
  console.error("usage: node worker_and_client.js HOST:PORT [INSTANCE_ID]");
  process.exit(2);
}

function greet(ctx, name) {
  return `Hello, ${name}!`;
}

async function* greetWorkflow(ctx, input) {
  const greeting = yield ctx.callActivity("js_greet", input.name);
  ctx.setCustomStatus("waiting-for-approval");
  const approval = yield ctx.waitForExternalEvent("approve");
  yield ctx.createTimer(1); // seconds
  return { greeting, approval };
}

function statusName(state) {
  return state === undefined ? null : OrchestrationStatus[state.runtimeStatus];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const worker = new TaskHubGrpcWorker(address);
  worker.addNamedActivity("js_greet", greet);
  worker.addNamedOrchestrator("js_greet_wf", greetWorkflow);
  const client = new TaskHubGrpcClient(address);
  await worker.start();
  try {
    const id = await client.scheduleNewOrchestration("js_greet_wf", { name: "ada" }, instanceId);
    const started = await client.waitForOrchestrationStart(id, false, WAIT_S);
    if (statusName(started) !== "RUNNING") {
      throw new Error(`expected RUNNING after start, got ${statusName(started)}`);
    }
    // Raise the event once the workflow really waits for it (not merely buffered).
    const deadline = Date.now() + WAIT_S * 1000;
    let waiting;
    for (;;) {
      waiting = await client.getOrchestrationState(id, true);
      if (waiting?.serializedCustomStatus === "waiting-for-approval") break;
      if (Date.now() > deadline) {
        throw new Error(`never waiting for the event: ${JSON.stringify(waiting)}`);
      }
      await sleep(50);
    }
    const raisedAt = Date.now();
    await client.raiseOrchestrationEvent(id, "approve", { ok: true });
    const done = await client.waitForOrchestrationCompletion(id, true, WAIT_S);
    const result = {
      instance_id: id,
      runtime_status: statusName(done),
      serialized_output: done?.serializedOutput ?? null,
      serialized_input: done?.serializedInput ?? null,
      started_status: statusName(started),
      waiting_status: statusName(waiting),
      ms_from_event_to_completion: Date.now() - raisedAt,
    };
    process.stdout.write(JSON.stringify(result) + "\n");
  } finally {
    await Promise.all([worker.stop(), client.stop()]); // each sleeps 1 s
  }
}

main().then(
  // The SDK's waits race a setTimeout it never clears: exit instead of idling.
  () => process.exit(0),
  (err) => {
    console.error("worker_and_client.js failed:", err);
    process.exit(1);
  },
);
