// Seed 003, "How to Implement Queue Groups in NATS", section "Monitoring Queue Groups": the
// article's code, unchanged but for the monitoring URL, which it takes from NATS_MONITOR_URL
// (as the other scripts take NATS_URL). `node monitor.js` prints every 5 s until killed.

const http = require('http');

// NATS monitoring endpoint helper
async function getNatsStats(natsMonitoringUrl = process.env.NATS_MONITOR_URL || 'http://localhost:8222') {
  return new Promise((resolve, reject) => {
    http.get(`${natsMonitoringUrl}/subsz?subs=1`, (res) => {
      let data = '';
      res.on('data', chunk => data += chunk);
      res.on('end', () => {
        try {
          resolve(JSON.parse(data));
        } catch (e) {
          reject(e);
        }
      });
    }).on('error', reject);
  });
}

async function monitorQueueGroups() {
  try {
    const stats = await getNatsStats();

    console.log('=== NATS Subscription Stats ===');
    console.log(`Total subscriptions: ${stats.num_subscriptions}`);
    console.log(`Total queue groups: ${stats.num_cache}`);

    // Parse subscriptions to find queue groups
    const queueGroups = {};

    if (stats.subscriptions_list) {
      for (const sub of stats.subscriptions_list) {
        if (sub.queue) {
          const key = `${sub.subject}:${sub.queue}`;
          if (!queueGroups[key]) {
            queueGroups[key] = {
              subject: sub.subject,
              queue: sub.queue,
              members: 0,
              pending: 0,
            };
          }
          queueGroups[key].members++;
          queueGroups[key].pending += sub.pending_msgs || 0;
        }
      }
    }

    console.log('\n=== Queue Groups ===');
    for (const [key, group] of Object.entries(queueGroups)) {
      console.log(`${group.subject} [${group.queue}]: ${group.members} members, ${group.pending} pending`);
    }
  } catch (error) {
    console.error('Failed to get NATS stats:', error.message);
  }
}

// Run monitoring every 5 seconds
setInterval(monitorQueueGroups, 5000);
monitorQueueGroups();
