# The perl program of the program suite (harness/programs_suite.cc): hash,
# array and string churn in THREADS interpreter threads (ithreads) at once,
# each on its own seed; Debian's perl allocates with the system malloc.
# The threads' results are printed in thread order, so the output is the
# same in every run (with PERL_HASH_SEED=0 and PERL_PERTURB_KEYS=0 besides).
#
# usage: perl churn.pl SEED N THREADS
use strict;
use warnings;
use threads;

my @SYLLABLES = qw(ka lo mi nu pe ra si to ve zu an or);

sub work {
    my ($seed, $n) = @_;
    my $state = $seed;
    my $below = sub {
        $state = ($state * 1103515245 + 12345) % 2147483648;
        return int($state / 65536) % $_[0];
    };
    my (%count, @records, %cache);
    my $total = 0;
    for my $i (1 .. $n) {
        my $word = join("", map { $SYLLABLES[$below->(12)] } 0 .. $below->(6));
        $count{$word}++;
        push @records, { id => $i, word => $word, tags => [substr($word, 0, 2), substr($word, -2)],
                         score => $below->(1000) };
        # A bounded cache: inserts, and a quarter evicted when full.
        $cache{"$word/" . $below->(64)} = [($word) x (1 + $below->(8))];
        if (keys(%cache) > 4096) {
            my @victims = (sort keys %cache)[0 .. 1023];
            delete @cache{@victims};
        }
        # A sliding window of records, sorted and trimmed.
        if (@records > 20000) {
            @records = sort { $a->{score} <=> $b->{score} or $a->{word} cmp $b->{word} } @records;
            $total += $_->{score} for @records[0 .. 99];
            splice(@records, 0, 10000);
        }
    }
    my $text = join(" ", map { "$_:$count{$_}" } sort keys %count);
    my @parts = split / /, $text;
    my $chars = 0;
    $chars += length($_) for @parts;
    my @top = (sort { $count{$b} <=> $count{$a} or $a cmp $b } keys %count)[0 .. 4];
    return join("\n", scalar(keys %count) . " $total " . scalar(@parts) . " $chars",
                map { "$_ $count{$_}" } @top) . "\n";
}

my ($seed, $n, $nthreads) = @ARGV;
die "usage: perl churn.pl SEED N THREADS\n" unless defined $nthreads;
my @workers = map { my $s = $seed + $_; threads->create(sub { work($s, $n) }) } 0 .. $nthreads - 1;
print $_->join() for @workers;
