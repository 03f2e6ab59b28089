// Seed 003, "How to Implement Queue Groups in NATS", section "Request-Reply with Queue
// Groups": the article's code, unchanged. `server <id>` runs until killed; no argument: the
// client, which makes 5 requests and exits.

const { connect, StringCodec } = require('nats');

// Request-reply server with queue group for load balancing
async function createServer(serverId) {
  const nc = await connect({
    servers: process.env.NATS_URL || 'nats://localhost:4222',
  });

  const sc = StringCodec();

  // Subscribe to 'api.calculate' with queue group 'calculators'
  // Requests are distributed among all servers in the group
  const subscription = nc.subscribe('api.calculate', {
    queue: 'calculators',
  });

  console.log(`Server ${serverId} ready to handle calculations`);

  for await (const msg of subscription) {
    const request = JSON.parse(sc.decode(msg.data));

    console.log(`Server ${serverId} handling: ${JSON.stringify(request)}`);

    // Process the request
    let result;
    switch (request.operation) {
      case 'add':
        result = request.a + request.b;
        break;
      case 'multiply':
        result = request.a * request.b;
        break;
      default:
        result = 'Unknown operation';
    }

    // Send reply back to the requester
    // msg.respond() sends the reply to the inbox specified in the request
    if (msg.reply) {
      msg.respond(Buffer.from(JSON.stringify({
        serverId,
        result,
        processedAt: new Date().toISOString(),
      })));
    }
  }
}

// Client making requests
async function createClient() {
  const nc = await connect({
    servers: process.env.NATS_URL || 'nats://localhost:4222',
  });

  const sc = StringCodec();

  // Make 5 requests - they will be load balanced across servers
  for (let i = 0; i < 5; i++) {
    const request = {
      operation: 'add',
      a: i,
      b: i * 2,
    };

    try {
      // Request with 5 second timeout
      // NATS routes to one server in the 'calculators' queue group
      const response = await nc.request(
        'api.calculate',
        Buffer.from(JSON.stringify(request)),
        { timeout: 5000 }
      );

      const result = JSON.parse(sc.decode(response.data));
      console.log(`Request ${i}: ${request.a} + ${request.b} = ${result.result} (handled by ${result.serverId})`);
    } catch (error) {
      console.error(`Request ${i} failed:`, error.message);
    }
  }

  await nc.drain();
}

// Run as server or client based on command line argument
const mode = process.argv[2];
if (mode === 'server') {
  createServer(process.argv[3] || '1').catch(console.error);
} else {
  createClient().catch(console.error);
}
