// Seed 003, "How to Implement Queue Groups in NATS", section "Node.js Implementation /
// Queue Group Subscriber": the article's code, unchanged. `node worker.js <id>` runs until killed.

const { connect, StringCodec } = require('nats');

async function createWorker(workerId) {
  const nc = await connect({
    servers: process.env.NATS_URL || 'nats://localhost:4222',
  });

  console.log(`Worker ${workerId} connected to NATS`);

  // Create a string codec for message encoding/decoding
  const sc = StringCodec();

  // Subscribe to 'tasks' subject with queue group 'workers'
  // All subscribers with the same queue group name share the messages
  // Each message goes to exactly one member of the group
  const subscription = nc.subscribe('tasks', {
    queue: 'workers',  // Queue group name - this is the key!
  });

  console.log(`Worker ${workerId} subscribed to 'tasks' in queue group 'workers'`);

  // Process messages as they arrive
  for await (const msg of subscription) {
    try {
      // Decode the message
      const task = JSON.parse(sc.decode(msg.data));

      console.log(`Worker ${workerId} processing task: ${task.id}`);

      // Simulate task processing
      await processTask(task);

      console.log(`Worker ${workerId} completed task: ${task.id}`);
    } catch (error) {
      console.error(`Worker ${workerId} failed to process message:`, error);
    }
  }
}

async function processTask(task) {
  // Simulate work with random processing time
  const processingTime = Math.random() * 1000 + 500;
  await new Promise(resolve => setTimeout(resolve, processingTime));
  return task;
}

// Start multiple workers to demonstrate load balancing
const workerId = process.argv[2] || '1';
createWorker(workerId).catch(console.error);
