// Seed 003, "How to Implement Queue Groups in NATS", section "Error Handling and Retries":
// the article's code, unchanged. `node worker_retry.js <id>` runs until SIGTERM/SIGINT (drains).

const { connect, StringCodec } = require('nats');

class WorkerWithRetry {
  constructor(workerId, maxRetries = 3) {
    this.workerId = workerId;
    this.maxRetries = maxRetries;
    this.retryDelay = 1000;  // Start with 1 second
  }

  async start() {
    this.nc = await connect({
      servers: process.env.NATS_URL || 'nats://localhost:4222',
      // Reconnection settings for resilience
      reconnect: true,
      maxReconnectAttempts: -1,  // Unlimited reconnect attempts
      reconnectTimeWait: 2000,   // Wait 2 seconds between attempts
    });

    this.sc = StringCodec();

    // Subscribe to main task queue
    const subscription = this.nc.subscribe('tasks', {
      queue: 'workers',
    });

    console.log(`Worker ${this.workerId} started`);

    for await (const msg of subscription) {
      await this.handleMessage(msg);
    }
  }

  async handleMessage(msg) {
    let task;
    try {
      task = JSON.parse(this.sc.decode(msg.data));
    } catch (error) {
      console.error(`Worker ${this.workerId}: Invalid message format, skipping`);
      // Publish to dead letter queue for investigation
      this.nc.publish('tasks.dlq', msg.data);
      return;
    }

    let attempt = 0;
    let success = false;

    while (attempt < this.maxRetries && !success) {
      attempt++;
      try {
        console.log(`Worker ${this.workerId}: Processing ${task.id} (attempt ${attempt})`);
        await this.processTask(task);
        success = true;
        console.log(`Worker ${this.workerId}: Completed ${task.id}`);
      } catch (error) {
        console.error(`Worker ${this.workerId}: Failed ${task.id} - ${error.message}`);

        if (attempt < this.maxRetries) {
          // Exponential backoff
          const delay = this.retryDelay * Math.pow(2, attempt - 1);
          console.log(`Worker ${this.workerId}: Retrying in ${delay}ms`);
          await new Promise(resolve => setTimeout(resolve, delay));
        }
      }
    }

    if (!success) {
      console.error(`Worker ${this.workerId}: ${task.id} failed after ${this.maxRetries} attempts`);
      // Send to dead letter queue for manual processing
      this.nc.publish('tasks.dlq', Buffer.from(JSON.stringify({
        task,
        error: 'Max retries exceeded',
        failedAt: new Date().toISOString(),
        workerId: this.workerId,
      })));
    }
  }

  async processTask(task) {
    // Simulate occasional failures
    if (Math.random() < 0.3) {
      throw new Error('Random processing failure');
    }
    await new Promise(resolve => setTimeout(resolve, 500));
    return task;
  }

  async stop() {
    if (this.nc) {
      await this.nc.drain();
      console.log(`Worker ${this.workerId} stopped`);
    }
  }
}

// Start worker
const worker = new WorkerWithRetry(process.argv[2] || '1');
worker.start().catch(console.error);

// Graceful shutdown
process.on('SIGTERM', () => worker.stop());
process.on('SIGINT', () => worker.stop());
