# compute: compress and checksum generated data; little kernel work.
#   sh compute.sh [KILOBYTES]
set -e
kib=${1:-256}
awk -v n="$((kib * 16))" 'BEGIN { x = 12345;
    for (i = 0; i < n; i++) { x = (x * 1103515245 + 12345) % 2147483648;
        printf "%015d\n", x % 1000000007 } }' > data.txt
gzip -9 -c data.txt > data.gz
echo "RESULT linux-compute kib=$kib data_md5=$(md5sum < data.txt | cut -c1-32) gz_bytes=$(wc -c < data.gz) gz_md5=$(md5sum < data.gz | cut -c1-32)"
