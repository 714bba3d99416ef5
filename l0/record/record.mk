# l0/record: the results writer embeds analysis/schema.sql, the one copy of
# the schema, as a C byte list generated into the build tree (od and sed
# are in every base system; xxd is not).

RECORD_GEN := $(HOST_BUILD)/gen/record
RECORD_SCHEMA_INC := $(RECORD_GEN)/schema_sql.inc

$(RECORD_SCHEMA_INC): analysis/schema.sql l0/record/record.mk
	@mkdir -p $(dir $@)
	od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g' > $@.tmp
	mv $@.tmp $@

# db.o is built by l0.mk's pattern rule; these add the generated input.
$(HOST_BUILD)/l0/record/db.o: $(RECORD_SCHEMA_INC)
$(HOST_BUILD)/l0/record/db.o: L0_INCLUDES += -I$(RECORD_GEN)
