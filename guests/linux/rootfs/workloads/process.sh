# process: the shape of kernbench. Many short-lived processes (fork, exec,
# exit of busybox tools), pipes between them, and text tools over
# generated files: page-fault, CR3 and system-call heavy. Deterministic:
# the RESULT line is a checksum of everything produced.
#   sh process.sh [ROUNDS]
set -e
rounds=${1:-3}
: > all.txt
i=0
while [ "$i" -lt "$rounds" ]; do
    # A generated "source file": 400 lines from a linear congruential
    # generator seeded by the round.
    awk -v seed="$i" 'BEGIN { x = seed * 7919 + 1;
        for (n = 0; n < 400; n++) { x = (x * 1103515245 + 12345) % 2147483648;
            printf "line%04d %d %s\n", n, x % 1000, (x % 3 ? "alpha" : "beta") } }' > src.txt
    sort -k2,2n src.txt | uniq -f1 -c | sort -rn | head -n 20 >> all.txt
    sed -e 's/alpha/ALPHA/g' -e 's/^line//' src.txt | tr 'a-z' 'A-Z' | wc -l >> all.txt
    gzip -c src.txt | gzip -dc | md5sum >> all.txt
    j=0
    while [ "$j" -lt 30 ]; do
        echo "$i $j" | cut -d' ' -f2 | tr 0-9 a-j >> all.txt
        j=$((j + 1))
    done
    i=$((i + 1))
done
echo "RESULT linux-process rounds=$rounds lines=$(wc -l < all.txt) md5=$(md5sum < all.txt | cut -c1-32)"
