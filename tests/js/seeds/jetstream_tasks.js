// Seed 003, "How to Implement Queue Groups in NATS", section "JetStream for Persistent Queue
// Groups": the article's code, unchanged. `node jetstream_tasks.js publish` creates the TASKS
// stream and publishes ten tasks; `node jetstream_tasks.js consume <id>` fetches from the
// durable `task-processors` (which must exist: jetstream_consumer_add.js creates it) until
// killed.

const { connect, AckPolicy, DeliverPolicy, StringCodec } = require('nats');

async function setupJetStream() {
  const nc = await connect({
    servers: process.env.NATS_URL || 'nats://localhost:4222',
  });

  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const sc = StringCodec();

  // Create or update stream for tasks
  // Streams persist messages to disk
  try {
    await jsm.streams.add({
      name: 'TASKS',
      subjects: ['tasks.>'],  // Capture all subjects starting with 'tasks.'
      retention: 'workqueue',  // Messages deleted after acknowledgment
      max_msgs: 100000,        // Maximum messages to retain
      max_age: 24 * 60 * 60 * 1e9,  // 24 hours in nanoseconds
    });
    console.log('Stream TASKS created');
  } catch (error) {
    if (error.message.includes('already exists')) {
      console.log('Stream TASKS already exists');
    } else {
      throw error;
    }
  }

  return { nc, js, jsm, sc };
}

// Publisher with JetStream
async function publishTasks() {
  const { nc, js, sc } = await setupJetStream();

  for (let i = 1; i <= 10; i++) {
    const task = {
      id: `task-${i}`,
      type: 'process',
      data: { value: i * 10 },
    };

    // Publish to JetStream - returns ack with sequence number
    const ack = await js.publish(
      'tasks.process',
      Buffer.from(JSON.stringify(task))
    );

    console.log(`Published task ${task.id}, sequence: ${ack.seq}`);
  }

  await nc.drain();
}

// Consumer with JetStream queue group
async function consumeTasks(consumerId) {
  const { nc, js, sc } = await setupJetStream();

  // Create a durable pull consumer
  // Multiple consumers with the same durable name form a queue group
  const consumer = await js.consumers.get('TASKS', 'task-processors');

  console.log(`Consumer ${consumerId} ready`);

  // Fetch messages in batches
  while (true) {
    try {
      // Pull up to 10 messages with 5 second timeout
      const messages = await consumer.fetch({
        max_messages: 10,
        expires: 5000,
      });

      for await (const msg of messages) {
        const task = JSON.parse(sc.decode(msg.data));
        console.log(`Consumer ${consumerId} processing: ${task.id}`);

        try {
          // Process the task
          await processTask(task);

          // Acknowledge successful processing
          // Message is removed from the stream
          msg.ack();
          console.log(`Consumer ${consumerId} completed: ${task.id}`);
        } catch (error) {
          console.error(`Consumer ${consumerId} failed: ${task.id}`);
          // Negative acknowledgment - message will be redelivered
          msg.nak();
        }
      }
    } catch (error) {
      if (error.message !== 'no messages') {
        console.error('Fetch error:', error);
      }
    }
  }
}

async function processTask(task) {
  await new Promise(resolve => setTimeout(resolve, 500));
  return task;
}

// Run as publisher or consumer
const mode = process.argv[2];
if (mode === 'publish') {
  publishTasks().catch(console.error);
} else {
  consumeTasks(process.argv[3] || '1').catch(console.error);
}
