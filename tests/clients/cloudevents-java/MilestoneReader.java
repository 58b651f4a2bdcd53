// Reads a milestones topic with the CloudEvents Java SDK, as a Java subscriber
// of career.milestones would, and prints one JSON line per record.
//
//   java -cp 'lib/*' MilestoneReader.java BOOTSTRAP TOPIC COUNT TIMEOUT_SECONDS
//
// It reads every partition from the beginning (no consumer group) until COUNT
// records were seen or TIMEOUT_SECONDS passed. Lines on stdout:
//   {"record":"event", "partition", "offset", "key", "id", "type", ..., "data"}
//   {"record":"rejected", "partition", "offset", "error"}   the SDK refused it
//   {"record":"summary", "read", "rejected", "timed_out"}   always last
// Exit status: 0 when COUNT records were seen, 2 on time-out, 1 on any other error.

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cloudevents.CloudEvent;
import io.cloudevents.kafka.CloudEventDeserializer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.serialization.StringDeserializer;

public class MilestoneReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: MilestoneReader BOOTSTRAP TOPIC COUNT TIMEOUT_SECONDS");
            System.exit(1);
        }
        String topic = args[1];
        int want = Integer.parseInt(args[2]);
        long deadline = System.nanoTime() + Duration.ofSeconds(Long.parseLong(args[3])).toNanos();

        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "skillstream-cloudevents-java-reader");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, CloudEventDeserializer.class.getName());

        int read = 0;
        int rejected = 0;
        try (KafkaConsumer<String, CloudEvent> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                partitions.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (read + rejected < want && System.nanoTime() < deadline) {
                try {
                    for (ConsumerRecord<String, CloudEvent> r : consumer.poll(Duration.ofMillis(200))) {
                        emit(event(r));
                        read++;
                    }
                } catch (RecordDeserializationException e) {
                    // The SDK refused this record: report it and go on after it.
                    ObjectNode line = JSON.createObjectNode();
                    line.put("record", "rejected");
                    line.put("partition", e.topicPartition().partition());
                    line.put("offset", e.offset());
                    Throwable cause = e.getCause() != null ? e.getCause() : e;
                    line.put("error", cause.getClass().getName() + ": " + cause.getMessage());
                    emit(line);
                    rejected++;
                    consumer.seek(e.topicPartition(), e.offset() + 1);
                }
            }
        }
        boolean timedOut = read + rejected < want;
        ObjectNode summary = JSON.createObjectNode();
        summary.put("record", "summary");
        summary.put("read", read);
        summary.put("rejected", rejected);
        summary.put("timed_out", timedOut);
        emit(summary);
        System.exit(timedOut ? 2 : 0);
    }

    private static ObjectNode event(ConsumerRecord<String, CloudEvent> r) {
        CloudEvent e = r.value();
        ObjectNode line = JSON.createObjectNode();
        line.put("record", "event");
        line.put("partition", r.partition());
        line.put("offset", r.offset());
        line.put("key", r.key());
        line.put("id", e.getId());
        line.put("type", e.getType());
        line.put("source", e.getSource() == null ? null : e.getSource().toString());
        line.put("subject", e.getSubject());
        line.put("dataschema", e.getDataSchema() == null ? null : e.getDataSchema().toString());
        line.put("datacontenttype", e.getDataContentType());
        line.put("specversion", e.getSpecVersion().toString());
        line.put("time", e.getTime() == null ? null : e.getTime().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
        ObjectNode extensions = line.putObject("extensions");
        for (String name : e.getExtensionNames()) {
            extensions.put(name, String.valueOf(e.getExtension(name)));
        }
        line.put("data", e.getData() == null ? null : new String(e.getData().toBytes(), StandardCharsets.UTF_8));
        return line;
    }

    private static void emit(ObjectNode line) throws Exception {
        System.out.println(JSON.writeValueAsString(line));
        System.out.flush();
    }
}
