# healthcheck.sh: W1 benchmark config file 9 of 10
[section_1]
option_1_1 = value-9-1-1
option_1_2 = value-9-1-2
option_1_3 = value-9-1-3
option_1_4 = value-9-1-4
option_1_5 = value-9-1-5

[section_2]
option_2_1 = value-9-2-1
option_2_2 = value-9-2-2
option_2_3 = value-9-2-3
option_2_4 = value-9-2-4
option_2_5 = value-9-2-5

[section_3]
option_3_1 = value-9-3-1
option_3_2 = value-9-3-2
option_3_3 = value-9-3-3
option_3_4 = value-9-3-4
option_3_5 = value-9-3-5

